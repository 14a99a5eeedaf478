import BastionSSH
import ServiceLifecycle

/// The SSH front door as a lifecycle service: listens until graceful shutdown, then stops
/// accepting and ends open connections.
struct SSHService: Service {
    let server: SSHServer
    let onListening: @Sendable (Int) -> Void

    func run() async throws {
        let port = try server.start()
        onListening(port)
        try? await gracefulShutdown()
        server.stop()
    }
}
