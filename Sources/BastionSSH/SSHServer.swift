import BastionCore
import CLibSSH
public import Logging
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Bastion's SSH front door: a listening socket of its own, one admission thread, and one
/// thread per running connection.
///
/// libssh blocks in key exchange and authentication, so connections never run on Swift's
/// cooperative pool (STYLE.md rule 2). The admission thread accepts, asks
/// ``AdmissionControl`` (through ``AdmissionGate``) whether each connection starts its
/// handshake on a thread now, waits (a socket in the poll set, no thread) or is refused,
/// and starts waiting connections as slots free up.
public final class SSHServer: Sendable {
    private struct State {
        var bind: BindHandle?
        /// The bind of `ssh -J` inner connections (same host key and algorithms), used by
        /// connection threads under this lock.
        var jumpBind: BindHandle?
        /// Inner connections' tickets: negative, never admission's.
        var lastJumpTicket = 0
        var listener: ListeningSocket?
        var stopping = false
        var acceptThreadDone = false
        /// When the admission loop last went round (it wakes at least once a second).
        var lastTurn: ContinuousClock.Instant?
    }

    /// libssh's bind handle: host key and algorithms for accepted sessions. Only the
    /// admission thread touches it after start.
    private struct BindHandle: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    /// A connection waiting for a handshake slot: its socket, and where it came from.
    private struct WaitingSocket {
        let fd: Int32
        let acceptedAt: Date
        let peer: Peer
    }

    /// A connection from a trusted proxy whose PROXY header has not arrived whole yet.
    private struct AwaitingHeader {
        let fd: Int32
        let acceptedAt: Date
        let proxy: Peer
    }

    /// How long a trusted proxy has to send its header. HAProxy sends it at once.
    static let proxyHeaderTimeout: TimeInterval = 3

    private let configuration: SSHServerConfiguration
    private let services: FrontDoorServices
    private let logger: Logger
    private let state = Mutex(State())
    private let connections = ConnectionRegistry()
    private let admission: AdmissionGate

    public init(configuration: SSHServerConfiguration, services: FrontDoorServices, logger: Logger) {
        self.configuration = configuration
        self.services = services
        self.logger = logger
        var admissionSettings = configuration.admission
        admissionSettings.graceTime = configuration.loginGraceTime
        let (audit, clock) = (services.audit, services.clock)
        admission = AdmissionGate(settings: admissionSettings, penalties: configuration.penalties) { activation in
            logger.warning("source penalised", metadata: ["source": "\(activation.source)", "cause": "\(activation.cause.rawValue)"])
            try? audit.append(AuditEvent(
                type: .sshPenalty, time: clock.now(), outcome: .failure, actor: .init(user: nil, method: "daemon"),
                connection: .init(id: "-", remoteAddress: activation.source, remotePort: 0, sshUsername: nil),
                reason: "\(activation.cause.rawValue): connections refused until \(AuditEvent.timestamp(activation.until))",
                details: ["source": activation.source, "cause": activation.cause.rawValue, "until": AuditEvent.timestamp(activation.until)]
            ))
        }
    }

    /// Binds and starts accepting. Returns the bound port.
    @discardableResult
    public func start() throws -> Int {
        ssh_init()
        signal(SIGPIPE, SIG_IGN)
        let bind = try makeBind()
        let jumpBind: OpaquePointer
        let listener: ListeningSocket
        do {
            jumpBind = try makeBind()
        } catch {
            ssh_bind_free(bind)
            throw error
        }
        do {
            listener = try ListeningSocket.open(host: configuration.host, port: configuration.port)
        } catch {
            ssh_bind_free(bind)
            ssh_bind_free(jumpBind)
            throw error
        }
        let handle = BindHandle(pointer: bind)
        state.withLock {
            $0.bind = handle
            $0.jumpBind = BindHandle(pointer: jumpBind)
            $0.listener = listener
        }
        let thread = Thread { [self] in admissionLoop(handle, listener) }
        thread.name = "ssh-accept"
        thread.start()
        logger.info("SSH listening", metadata: ["address": "\(configuration.host):\(listener.port)", "backlog": "\(ListeningSocket.backlog)"])
        return listener.port
    }

    /// Stops accepting and ends every open connection.
    public func stop() {
        let listener = state.withLock { state -> ListeningSocket? in
            state.stopping = true
            return state.listener
        }
        admission.wake()
        connections.closeAll()
        while listener != nil, !state.withLock({ $0.acceptThreadDone }) { usleep(10_000) }
        connections.waitUntilEmpty(timeout: 5)
        state.withLock { state in
            if let jumpBind = state.jumpBind { ssh_bind_free(jumpBind.pointer) }
            state.jumpBind = nil
        }
    }

    /// Starts the inner connection of an `ssh -J` jump on `fd` (one end of a socket pair whose
    /// other end the outer connection bridges to its `direct-tcpip` channel). No admission: the
    /// outer connection is authenticated. Owns `fd` from here on.
    func acceptJump(fd: Int32, jump: JumpContext) -> Bool {
        guard let session = ssh_new() else {
            close(fd)
            return false
        }
        ssh_options_set(session, SSH_OPTIONS_COMPRESSION_C_S, "none")
        ssh_options_set(session, SSH_OPTIONS_COMPRESSION_S_C, "none")
        let ticket = state.withLock { state -> Int? in
            guard !state.stopping, let bind = state.jumpBind, ssh_bind_accept_fd(bind.pointer, session, fd) == SSH_OK else { return nil }
            state.lastJumpTicket -= 1
            return state.lastJumpTicket
        }
        guard let ticket else {
            let owned = ssh_get_fd(session) == fd
            ssh_free(session)
            if !owned { close(fd) }
            return false
        }
        launch(FrontDoorConnection(
            session: session, peer: jump.source, ticket: ticket, acceptedAt: services.clock.now(), admission: admission, registry: connections,
            configuration: configuration, services: services, logger: logger, jump: jump, acceptJump: jumpAcceptor
        ))
        return true
    }

    /// How connections start inner connections (the server holds its connections, not the reverse).
    private var jumpAcceptor: JumpAcceptor {
        { [weak self] fd, jump in
            guard let self else {
                close(fd)
                return false
            }
            return self.acceptJump(fd: fd, jump: jump)
        }
    }

    /// Whether the admission loop went round within `seconds` (the systemd watchdog's check:
    /// a wedged loop accepts nobody, and a restart is better than a bastion that looks up).
    public func acceptLoopAlive(within seconds: Double) -> Bool {
        state.withLock { state in
            guard !state.acceptThreadDone, let last = state.lastTurn else { return false }
            return ContinuousClock.now - last < .milliseconds(Int64(seconds * 1000))
        }
    }

    /// Number of connections currently open (for metrics and tests).
    public var openConnections: Int { connections.count }

    /// Unauthenticated connections running and waiting, penalised sources, drops by reason.
    public var admissionStats: (running: Int, waiting: Int, penalised: Int, dropped: [String: Int]) {
        let stats = admission.stats(now: services.clock.now())
        return (stats.running, stats.waiting, stats.penalised, stats.dropped)
    }

    /// libssh's bind object, configured but never listening: it only gives accepted sockets
    /// their host key and algorithms. A test accept on a socket pair loads the host key now,
    /// so that an unreadable key fails the start, not the first login.
    private func makeBind() throws -> OpaquePointer {
        guard let bind = ssh_bind_new() else { throw SSHError(.resources, "ssh_bind_new failed") }
        var noConfig = false
        ssh_bind_options_set(bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &noConfig)
        let options: [(ssh_bind_options_e, String)] = [
            (SSH_BIND_OPTIONS_KEY_EXCHANGE, configuration.algorithms.keyExchangeList),
            (SSH_BIND_OPTIONS_CIPHERS_C_S, configuration.algorithms.cipherList),
            (SSH_BIND_OPTIONS_CIPHERS_S_C, configuration.algorithms.cipherList),
            (SSH_BIND_OPTIONS_HMAC_C_S, configuration.algorithms.macList),
            (SSH_BIND_OPTIONS_HMAC_S_C, configuration.algorithms.macList),
            (SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS, AlgorithmPolicy.hostKeys),
            (SSH_BIND_OPTIONS_PUBKEY_ACCEPTED_KEY_TYPES, AlgorithmPolicy.userKeys),
        ]
        for (option, value) in options where ssh_bind_options_set(bind, option, value) != SSH_OK {
            let detail = LibSSH.errorText(bind)
            ssh_bind_free(bind)
            throw SSHError(.bind, "setting algorithms: \(detail)")
        }
        var pair: [Int32] = [-1, -1]
        guard ssh_bind_options_set(bind, SSH_BIND_OPTIONS_HOSTKEY, configuration.hostKeyPath) == SSH_OK,
            socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0, &pair) == 0, let probe = ssh_new()
        else {
            let detail = LibSSH.errorText(bind)
            ssh_bind_free(bind)
            throw SSHError(.hostKey, "\(configuration.hostKeyPath): \(detail)")
        }
        let loaded = ssh_bind_accept_fd(bind, probe, pair[0]) == SSH_OK
        ssh_free(probe)  // closes pair[0]
        close(pair[1])
        guard loaded else {
            let detail = LibSSH.errorText(bind)
            ssh_bind_free(bind)
            throw SSHError(.hostKey, "\(configuration.hostKeyPath): \(detail)")
        }
        return bind
    }

    private func admissionLoop(_ bind: BindHandle, _ listener: ListeningSocket) {
        var waiting: [Int: WaitingSocket] = [:]
        var awaiting: [AwaitingHeader] = []
        var nextTicket = 0
        defer {
            waiting.values.forEach { close($0.fd) }
            awaiting.forEach { close($0.fd) }
            close(listener.fd)
            ssh_bind_free(bind.pointer)
            state.withLock { $0.acceptThreadDone = true }
        }
        var lastExpiry = Date()
        while !state.withLock({ state in
            state.lastTurn = .now
            return state.stopping
        }) {
            let tickets = Array(waiting.keys)
            var pollers = [
                pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0),
                pollfd(fd: admission.wakeDescriptor, events: Int16(POLLIN), revents: 0),
            ]
            // A waiting client is watched only for hanging up: its banner may already be
            // readable, and that must wait for its handshake.
            pollers += tickets.map { pollfd(fd: waiting[$0]!.fd, events: Self.pollPeerHangUp, revents: 0) }
            pollers += awaiting.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            _ = poll(&pollers, nfds_t(pollers.count), awaiting.isEmpty ? 1000 : 200)
            if state.withLock({ $0.stopping }) { return }
            if pollers[1].revents != 0 { admission.drainWakeups() }
            let now = services.clock.now()
            for (index, ticket) in tickets.enumerated() where pollers[index + 2].revents != 0 {
                admission.left(ticket)
                close(waiting.removeValue(forKey: ticket)!.fd)
            }
            // Trusted proxies' headers: read whole ones, drop bad or late ones.
            var stillAwaiting: [AwaitingHeader] = []
            for (entry, revents) in zip(awaiting, pollers.suffix(awaiting.count).map(\.revents)) {
                guard revents != 0 || now.timeIntervalSince(entry.acceptedAt) >= Self.proxyHeaderTimeout else {
                    stillAwaiting.append(entry)
                    continue
                }
                switch readProxyHeader(entry, now: now) {
                case nil:
                    stillAwaiting.append(entry)
                case let peer??:
                    nextTicket += 1
                    arrive(entry.fd, peer: peer, ticket: nextTicket, acceptedAt: entry.acceptedAt, bind: bind, waiting: &waiting, now: now)
                case .some(nil):
                    close(entry.fd)
                }
            }
            awaiting = stillAwaiting
            if pollers[0].revents != 0 {
                // A bounded batch per turn, so that waiting sockets and freed slots get a look.
                for _ in 0..<256 {
                    guard let fd = listener.accept() else { break }
                    let peer = LibSSH.peerAddress(fd: fd)
                    if configuration.trustedProxies?.contains(address: peer.address) == true {
                        awaiting.append(AwaitingHeader(fd: fd, acceptedAt: now, proxy: Peer(address: peer.address, port: peer.port)))
                        continue
                    }
                    nextTicket += 1
                    arrive(fd, peer: Peer(address: peer.address, port: peer.port), ticket: nextTicket, acceptedAt: now, bind: bind, waiting: &waiting, now: now)
                }
            }
            if now.timeIntervalSince(lastExpiry) >= 1 {
                lastExpiry = now
                for ticket in admission.expire(now: now) {
                    if let socket = waiting.removeValue(forKey: ticket) { close(socket.fd) }
                }
            }
            for ticket in admission.next(now: now) {
                guard let socket = waiting.removeValue(forKey: ticket) else { continue }
                run(socket.fd, peer: socket.peer, ticket: ticket, acceptedAt: socket.acceptedAt, bind: bind)
            }
        }
    }

    /// Linux's `POLLRDHUP` (the peer shut its side down; `<poll.h>` with `_GNU_SOURCE`, which
    /// Swift's Glibc module does not define).
    private static let pollPeerHangUp: Int16 = 0x2000

    /// Reads a trusted proxy's PROXY v2 header off `entry`'s socket: nil while it is still
    /// incomplete; `.some(peer)` with the client it names (the proxy itself for a LOCAL
    /// header: its health check); `.some(nil)` when it is malformed or late (audited).
    private func readProxyHeader(_ entry: AwaitingHeader, now: Date) -> Peer?? {
        var buffer = [UInt8](repeating: 0, count: ProxyHeader.maximumLength)
        let peeked = buffer.withUnsafeMutableBytes { recv(entry.fd, $0.baseAddress, $0.count, Int32(MSG_PEEK | MSG_DONTWAIT)) }
        let late = now.timeIntervalSince(entry.acceptedAt) >= Self.proxyHeaderTimeout
        let problem: String
        switch ProxyHeader.parse(Array(buffer.prefix(max(0, peeked)))) {
        case .header(let header, let length):
            _ = buffer.withUnsafeMutableBytes { recv(entry.fd, $0.baseAddress, length, Int32(MSG_DONTWAIT)) }
            return .some(header.source.map { Peer(address: $0.address, port: $0.port) } ?? entry.proxy)
        case .incomplete where peeked == 0:
            problem = "the proxy closed the connection before its PROXY header"
        case .incomplete:
            guard late else { return nil }
            problem = "no whole PROXY header within \(Int(Self.proxyHeaderTimeout))s"
        case .invalid(let reason):
            problem = reason
        }
        ProxyRefusal.audit(from: entry.proxy, reason: "from trusted proxy \(entry.proxy.address): \(problem)", services: services, logger: logger)
        return .some(nil)
    }

    /// Carries out the admission decision for a connection just accepted.
    private func arrive(
        _ fd: Int32, peer: Peer, ticket: Int, acceptedAt: Date, bind: BindHandle, waiting: inout [Int: WaitingSocket], now: Date
    ) {
        let source = peer.address
        switch admission.arrive(ticket, source: source, now: now) {
        case .start(let evicting):
            if let evicting { connections.evict(ticket: evicting) }
            run(fd, peer: peer, ticket: ticket, acceptedAt: acceptedAt, bind: bind)
        case .wait(let dropping):
            if let dropping, let socket = waiting.removeValue(forKey: dropping) { close(socket.fd) }
            waiting[ticket] = WaitingSocket(fd: fd, acceptedAt: acceptedAt, peer: peer)
        case .refuse(let refusal):
            logger.debug("connection refused", metadata: ["source": "\(source)", "reason": "\(refusal.rawValue)"])
            close(fd)
        }
    }

    /// Starts the handshake of `fd` on a thread of its own.
    private func run(_ fd: Int32, peer: Peer, ticket: Int, acceptedAt: Date, bind: BindHandle) {
        guard let session = ssh_new() else {
            close(fd)
            admission.ended(ticket, source: peer.address, cause: nil, now: services.clock.now())
            return
        }
        // Compression has no bind option; it must be set before accept, which builds the
        // server's KEX offer.
        ssh_options_set(session, SSH_OPTIONS_COMPRESSION_C_S, "none")
        ssh_options_set(session, SSH_OPTIONS_COMPRESSION_S_C, "none")
        guard ssh_bind_accept_fd(bind.pointer, session, fd) == SSH_OK else {
            logger.warning("accept failed", metadata: ["error": "\(LibSSH.errorText(bind.pointer))"])
            // Whoever holds the socket closes it, once.
            let owned = ssh_get_fd(session) == fd
            ssh_free(session)
            if !owned { close(fd) }
            admission.ended(ticket, source: peer.address, cause: nil, now: services.clock.now())
            return
        }
        launch(FrontDoorConnection(
            session: session, peer: peer, ticket: ticket, acceptedAt: acceptedAt, admission: admission, registry: connections, configuration: configuration,
            services: services, logger: logger, acceptJump: jumpAcceptor
        ))
    }

    /// Runs an accepted connection on a thread of its own.
    private func launch(_ connection: FrontDoorConnection) {
        connections.register(connection)
        let thread = Thread { [connections] in
            connection.run()
            if connections.remove(connection) { _ = malloc_trim(0) }
        }
        thread.name = "ssh-conn"
        thread.stackSize = 1 << 20
        thread.start()
    }
}

#if canImport(Glibc)
/// glibc's `malloc_trim(3)` (from `<malloc.h>`, which the Glibc module does not export):
/// returns free memory at the top of the heap and free pages inside every arena to the kernel.
@_silgen_name("malloc_trim")
private func malloc_trim(_ pad: Int) -> Int32
#else
private func malloc_trim(_ pad: Int) -> Int32 { 0 }
#endif
