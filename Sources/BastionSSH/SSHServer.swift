import BastionCore
import CLibSSH
public import Logging
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Bastion's SSH front door: a libssh bind socket, an accept thread, and one thread per
/// connection.
///
/// libssh blocks in key exchange and authentication, so connections never run on Swift's
/// cooperative pool (STYLE.md rule 2); a thread per connection is what the spike measured.
public final class SSHServer: Sendable {
    private struct State {
        var bind: BindHandle?
        var port: Int?
        var stopping = false
        var acceptThreadDone = false
    }

    /// libssh's bind handle. Only the accept thread touches it after start; `stop()` only
    /// shuts its socket down (a thread-safe syscall) to wake that thread.
    private struct BindHandle: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private let configuration: SSHServerConfiguration
    private let services: FrontDoorServices
    private let logger: Logger
    private let state = Mutex(State())
    private let connections = ConnectionRegistry()

    public init(configuration: SSHServerConfiguration, services: FrontDoorServices, logger: Logger) {
        self.configuration = configuration
        self.services = services
        self.logger = logger
    }

    /// Binds and starts accepting. Returns the bound port.
    @discardableResult
    public func start() throws -> Int {
        ssh_init()
        signal(SIGPIPE, SIG_IGN)
        guard let bind = ssh_bind_new() else { throw SSHError(.resources, "ssh_bind_new failed") }
        var noConfig = false
        ssh_bind_options_set(bind, SSH_BIND_OPTIONS_PROCESS_CONFIG, &noConfig)
        ssh_bind_options_set(bind, SSH_BIND_OPTIONS_BINDADDR, configuration.host)
        ssh_bind_options_set(bind, SSH_BIND_OPTIONS_BINDPORT_STR, String(configuration.port))
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
        guard ssh_bind_options_set(bind, SSH_BIND_OPTIONS_HOSTKEY, configuration.hostKeyPath) == SSH_OK else {
            let detail = LibSSH.errorText(bind)
            ssh_bind_free(bind)
            throw SSHError(.hostKey, "\(configuration.hostKeyPath): \(detail)")
        }
        guard ssh_bind_listen(bind) == SSH_OK else {
            let detail = LibSSH.errorText(bind)
            ssh_bind_free(bind)
            throw SSHError(.bind, "listen on \(configuration.host):\(configuration.port): \(detail)")
        }
        let port = LibSSH.localPort(fd: ssh_bind_get_fd(bind)) ?? configuration.port
        let handle = BindHandle(pointer: bind)
        state.withLock {
            $0.bind = handle
            $0.port = port
        }
        let thread = Thread { [self] in acceptLoop(handle) }
        thread.name = "ssh-accept"
        thread.start()
        logger.info("SSH listening", metadata: ["address": "\(configuration.host):\(port)"])
        return port
    }

    /// Stops accepting and ends every open connection.
    public func stop() {
        let bind = state.withLock { state -> BindHandle? in
            state.stopping = true
            return state.bind
        }
        if let bind { shutdown(ssh_bind_get_fd(bind.pointer), Int32(SHUT_RDWR)) }
        connections.closeAll()
        while !state.withLock({ $0.acceptThreadDone || $0.bind == nil }) { usleep(10_000) }
        connections.waitUntilEmpty(timeout: 5)
    }

    /// Number of connections currently open (for metrics and tests).
    public var openConnections: Int { connections.count }

    private func acceptLoop(_ bind: BindHandle) {
        defer {
            ssh_bind_free(bind.pointer)
            state.withLock { $0.acceptThreadDone = true }
        }
        while !state.withLock({ $0.stopping }) {
            guard let session = ssh_new() else {
                usleep(100_000)
                continue
            }
            // Compression has no bind option; it must be set before accept, which builds
            // the server's KEX offer.
            ssh_options_set(session, SSH_OPTIONS_COMPRESSION_C_S, "none")
            ssh_options_set(session, SSH_OPTIONS_COMPRESSION_S_C, "none")
            guard ssh_bind_accept(bind.pointer, session) == SSH_OK else {
                ssh_free(session)
                if state.withLock({ $0.stopping }) { return }
                logger.warning("accept failed", metadata: ["error": "\(LibSSH.errorText(bind.pointer))"])
                usleep(50_000)
                continue
            }
            let connection = FrontDoorConnection(
                session: session, configuration: configuration, services: services, logger: logger
            )
            guard connections.admit(
                connection, perSource: configuration.maxConnectionsPerSource, total: configuration.maxConnections
            ) else {
                logger.warning("connection limit reached; dropping", metadata: ["source": "\(connection.context.remoteAddress)"])
                connection.discard()
                continue
            }
            let thread = Thread { [connections] in
                connection.run()
                if connections.remove(connection) { _ = malloc_trim(0) }
            }
            thread.name = "ssh-conn"
            thread.stackSize = 1 << 20
            thread.start()
        }
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
