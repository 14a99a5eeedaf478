import BastionCore
import BastionCrypto
import CLibSSH
import Foundation
import Logging
import Synchronization

/// One client connection to the front door, from key exchange to disconnect.
///
/// `@unchecked Sendable`: every stored property except `closeRequested` (an `Atomic`) is
/// touched only by the connection's own thread, inside ``run()``; libssh invokes the
/// callbacks on that thread from `ssh_handle_key_exchange` and `ssh_event_dopoll`.
/// Lifetime: the thread closure holds the only strong reference for the whole of `run()`,
/// and libssh receives `self` unretained as `userdata`, used only during `run()`.
final class FrontDoorConnection: @unchecked Sendable {
    let session: ssh_session
    /// Admission's name for this connection, and when it was accepted (the login grace time
    /// counts from then, waiting included).
    let ticket: Int
    let acceptedAt: Date
    let admission: AdmissionGate
    /// The server's open connections (for `max_connections`).
    let registry: ConnectionRegistry
    let configuration: SSHServerConfiguration
    let services: FrontDoorServices
    var logger: Logger
    let context: ConnectionContext
    /// Set on the inner connection of an `ssh -J` jump (FrontDoorConnection+Jump).
    let jump: JumpContext?
    /// Starts inner connections for this connection's jumps.
    let acceptJump: JumpAcceptor

    /// Where the connection stands (authenticating, open, ending, hanging up).
    var phase = ConnectionPhase.authenticating
    /// What the login has gathered so far (FrontDoorConnection+Authentication).
    var authentication = LoginProgress()
    var identity: AuthenticatedIdentity? {
        didSet {
            guard oldValue == nil, identity != nil else { return }
            phase = .open
            authenticated.store(true, ordering: .relaxed)
            admission.authenticated(ticket)
            // The first check a second from now: a client's channel right after login is
            // checked as it opens, and a refusal is then told on that channel.
            lastEnforcement = Date()
            // An inner connection is part of its outer one: not a connection of its own for `max_connections`.
            if let identity, jump == nil { registry.authenticated(self, as: identity.user.name.rawValue) }
        }
    }

    // Channels (FrontDoorConnection+Channels, +Forwarding).
    /// Open session channels, oldest first (up to `max_sessions`).
    var channels: [SessionChannel] = []
    /// When the last session channel was freed: idle time of a connection left with none.
    var lastChannelClosedAt: Date?
    var forwarding = ForwardingState()
    /// `direct-tcpip` channels to targets, answered by inner connections (FrontDoorConnection+Jump).
    var jumps: [JumpBridge] = []

    /// The last once-a-second check (FrontDoorConnection+Enforcement).
    var lastEnforcement = Date.distantPast

    private let closeRequested = Atomic<Bool>(false)
    private let authenticated = Atomic<Bool>(false)
    /// Whether the socket may still be shut down from another thread (admission pushing a
    /// stalled handshake out): false from just before libssh closes it.
    private let socketOpen = Mutex(true)
    private let evicted = Atomic<Bool>(false)
    /// Why the handshake failed, for the source's penalty; nil while it has not.
    var handshakeFailure: PenaltyBox.Cause?

    // libssh keeps pointers to these structs: heap-allocated so their addresses are stable;
    // `.size` is set by hand because `ssh_callbacks_init` is a C macro.
    let serverCallbacks = UnsafeMutablePointer<ssh_server_callbacks_struct>.allocate(capacity: 1)

    init(
        session: ssh_session, peer: Peer, ticket: Int, acceptedAt: Date, admission: AdmissionGate, registry: ConnectionRegistry,
        configuration: SSHServerConfiguration, services: FrontDoorServices, logger: Logger, jump: JumpContext? = nil,
        acceptJump: @escaping JumpAcceptor
    ) {
        self.jump = jump
        self.acceptJump = acceptJump
        self.registry = registry
        self.session = session
        self.ticket = ticket
        self.acceptedAt = acceptedAt
        self.admission = admission
        self.configuration = configuration
        self.services = services
        let id = ConnectionID.random()
        self.context = ConnectionContext(id: id, remoteAddress: peer.address, remotePort: peer.port, jumpedFrom: jump?.outerConnection)
        self.logger = logger
        self.logger[metadataKey: "conn"] = "\(id)"
        if let jump { self.logger[metadataKey: "jump"] = "\(jump.outerConnection) \(jump.target)" }
        serverCallbacks.initialize(to: ssh_server_callbacks_struct())
    }

    deinit {
        serverCallbacks.deallocate()
    }

    var userdata: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    static func from(_ userdata: UnsafeMutableRawPointer?) -> FrontDoorConnection {
        Unmanaged<FrontDoorConnection>.fromOpaque(userdata!).takeUnretainedValue()
    }

    /// Asks the connection to end (shutdown); safe from any thread.
    func requestClose() {
        closeRequested.store(true, ordering: .relaxed)
    }

    var closeRequestedFlag: Bool { closeRequested.load(ordering: .relaxed) }

    var isAuthenticated: Bool { authenticated.load(ordering: .relaxed) }

    /// Ends the handshake from another thread: shuts the socket down, which wakes libssh's
    /// blocking read on the connection's own thread. Safe from any thread.
    func evict() {
        evicted.store(true, ordering: .relaxed)
        socketOpen.withLock { open in
            if open { shutdown(ssh_get_fd(session), Int32(SHUT_RDWR)) }
        }
    }

    /// Tells admission how the connection ended: nothing when it authenticated (its slot was
    /// freed then), else whether its source earned a penalty.
    private func reportEnd() {
        // An inner connection never went through admission (its outer connection did).
        guard !isAuthenticated, jump == nil else { return }
        var cause = handshakeFailure
        if evicted.load(ordering: .relaxed) || closeRequestedFlag {
            cause = nil
        } else if cause == nil {
            cause = authentication.deniedAttempts > 0 || authentication.wrongCodes > 0 ? .authFail : (Date() >= loginDeadline ? .graceExceeded : .noAuth)
        }
        admission.ended(ticket, source: context.remoteAddress, cause: cause, now: services.clock.now())
    }

    /// The end of the login grace time, counted from accept.
    var loginDeadline: Date { acceptedAt.addingTimeInterval(configuration.loginGraceTime) }

    /// The connection's whole life, on its own thread.
    func run() {
        var event: ssh_event?
        defer {
            // Order matters: detach the sessions from the event before freeing any of them, and
            // free the channels before the session that owns them.
            closeChannels(event: event)
            closeForwards()
            closeJumps(event: event)
            // While the session is still in the event: libssh flushes the disconnect
            // through the session's poll handle, which the event holds.
            let disconnectMessage = phase.disconnectMessage
            if let disconnectMessage { LibSSH.disconnect(session, event: event, message: disconnectMessage, linger: 2) }
            if let event {
                ssh_event_remove_session(event, session)
                ssh_event_free(event)
            }
            socketOpen.withLock { open in
                open = false
                if disconnectMessage == nil { ssh_disconnect(session) }
            }
            ssh_free(session)
            reportEnd()
        }
        var timeout = max(1, Int(loginDeadline.timeIntervalSinceNow.rounded(.up)))
        ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &timeout)
        installCallbacks()
        let first = ProxyRefusal.firstBytes(fd: ssh_get_fd(session), wait: 0.05)
        // A PROXY header from a source that is not a trusted proxy: a client choosing its own address.
        if ProxyHeader.looksLikeHeader(first) {
            handshakeFailure = .malformed
            ProxyRefusal.audit(
                from: Peer(address: context.remoteAddress, port: context.remotePort),
                reason: "PROXY header from \(context.remoteAddress), which is not in ssh.trusted_proxies", services: services, logger: logger
            )
            return
        }
        // Not SSH at all (an HTTP request, a scanner's probe): dropped and penalised as malformed
        // here, not from whatever libssh's error text says of it (under load that text was
        // sometimes "disconnected", and the source went unpenalised).
        if !first.isEmpty, !ProxyRefusal.canStartSSH(first) {
            handshakeFailure = .malformed
            logger.info("not an SSH client: dropped", metadata: ["source": "\(context.remoteAddress)"])
            return
        }
        guard ssh_handle_key_exchange(session) == SSH_OK else {
            let error = LibSSH.errorText(session)
            handshakeFailure = Self.penaltyCause(keyExchangeError: error, pastDeadline: Date() >= loginDeadline)
            logger.debug("key exchange failed", metadata: ["error": "\(error)"])
            return
        }
        admission.keyExchanged(ticket)
        event = ssh_event_new()
        guard let event else { return }
        ssh_event_add_session(event, session)
        let deadline = loginDeadline
        while !phase.isHangingUp {
            let rc = ssh_event_dopoll(event, pollTimeoutMilliseconds)
            if ssh_is_connected(session) == 0 { break }
            serviceForwards()
            serviceJumps(event: event)
            if identity != nil, Date().timeIntervalSince(lastEnforcement) >= 1 {
                lastEnforcement = Date()
                enforce(now: services.clock.now())
                if phase.isHangingUp { break }
            }
            let relaying = channels.contains { $0.live != nil }
            serviceChannels(event: event)
            // While a relay ran this turn, an error from the poll may be a target hanging up,
            // which must not cut the client off before it has read its exit status (the
            // finished target is out of the event now; the next turn polls the client alone),
            // and a shutdown or a lock ends the relay through its own close sequence first.
            if relaying { continue }
            if rc == SSH_ERROR { break }
            if closeRequested.load(ordering: .relaxed) { break }
            if identity == nil, Date() > deadline {
                logger.info("authentication not finished within the login grace time")
                break
            }
            if phase == .ending, channels.isEmpty, let closed = lastChannelClosedAt, Date().timeIntervalSince(closed) > Self.hangUpGrace {
                // Every channel was told why and closed; the client normally hangs up first
                // (then it prints no "connection closed by remote host"), but do not wait forever.
                break
            }
        }
    }

    /// What a failed key exchange earns its source, from libssh 0.10's error text (each case
    /// seen with a real client or a raw socket in HostileClientTests): the grace time ran out;
    /// the client went away (`Socket error: disconnected`, `… reset by peer`) or offered no
    /// algorithm Bastion has (`no match for method`), no worse than never trying; or it sent
    /// something that is not SSH: a non-SSH banner (libssh closes with `Socket error: Success`),
    /// an oversized packet (`Packet len too high`), a KEXINIT it cannot parse (no text at all).
    static func penaltyCause(keyExchangeError error: String, pastDeadline: Bool) -> PenaltyBox.Cause {
        let text = error.trimmingCharacters(in: .whitespaces)
        if pastDeadline || text.localizedCaseInsensitiveContains("timeout") { return .graceExceeded }
        if text.isEmpty || text == "Socket error: Success" { return .malformed }
        if text.localizedCaseInsensitiveContains("no match for method") || text.hasPrefix("Socket error:") { return .noAuth }
        return malformedMarkers.contains { text.localizedCaseInsensitiveContains($0) } ? .malformed : .noAuth
    }

    /// Other things libssh 0.10 says of input that is not SSH.
    static let malformedMarkers = [
        "protocol mismatch", "too high", "too big", "too large", "invalid", "bad packet", "unexpected", "wrong packet", "decrypt",
        "mac error", "padding", "kexinit", "could not parse", "malformed",
    ]

    /// How long a client may take to hang up after the enforcement point ended its connection
    /// and every channel was closed. A busy or stopped client (a laptop lid, a loaded CI
    /// machine) that resumes within this still reads its exit status. Ten seconds of one idle
    /// connection. (A connection whose channels simply ended stays, as sshd keeps it, for
    /// `ControlPersist`, under the idle timeout.)
    static let hangUpGrace: TimeInterval = 10

    /// How long the event loop may sleep: 100 ms without a relayed session (only logins,
    /// commands and forwards), 10 ms with one (policy checks, endings), 1 ms while the relay holds a
    /// partial packet of a bulk transfer back.
    private var pollTimeoutMilliseconds: Int32 {
        // Every turn of the loop: no allocation.
        // A jump's socket is in the event while it may be read: only bytes held back need a turn soon.
        var relaying = jumps.contains { $0.forward.holdsBytes || !$0.inEvent }
        for channel in channels {
            guard let relay = channel.live?.relay else { continue }
            if relay.holdsPartialPacket { return 1 }
            relaying = true
        }
        return relaying ? 10 : 100
    }

    private func installCallbacks() {
        serverCallbacks.pointee.size = MemoryLayout<ssh_server_callbacks_struct>.size
        serverCallbacks.pointee.userdata = userdata
        serverCallbacks.pointee.auth_pubkey_function = { _, user, key, signatureState, userdata in
            guard let user, let key else { return LibSSH.authDenied }
            return FrontDoorConnection.from(userdata).authenticatePublicKey(
                username: String(cString: user), key: key, signatureState: signatureState
            )
        }
        serverCallbacks.pointee.channel_open_request_session_function = { _, userdata in
            FrontDoorConnection.from(userdata).openSessionChannel()
        }
        ssh_set_server_callbacks(session, serverCallbacks)
        ssh_set_message_callback(session, { _, message, userdata in
            guard let message else { return 1 }
            return FrontDoorConnection.from(userdata).handleMessage(message)
        }, userdata)
        ssh_set_auth_methods(session, Int32(SSH_AUTH_METHOD_PUBLICKEY))
    }
}
