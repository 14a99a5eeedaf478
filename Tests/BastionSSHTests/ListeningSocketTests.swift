@testable import BastionSSH
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The front door's accepted sockets, as libssh receives them.
@Suite("Listening socket")
struct ListeningSocketTests {
    /// Without TCP_NODELAY an SFTP upload through Bastion stalled 40 ms at a time (Nagle
    /// waiting for the client's delayed ACK): 40 MiB/s against about 240 with it
    /// (`bastion-bench --only relay --relay-parts sftp`).
    @Test("an accepted connection has TCP_NODELAY and close-on-exec")
    func acceptedSocketOptions() throws {
        let listener = try ListeningSocket.open(host: "127.0.0.1", port: 0)
        defer { close(listener.fd) }
        let client = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(client >= 0)
        defer { close(client) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(listener.port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        var accepted: Int32?
        for _ in 0..<200 where accepted == nil {
            accepted = listener.accept()
            if accepted == nil { usleep(5_000) }
        }
        let fd = try #require(accepted, "nothing to accept")
        defer { close(fd) }
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        #expect(getsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &value, &length) == 0)
        #expect(value != 0, "TCP_NODELAY is off")
        #expect(fcntl(fd, F_GETFD) & FD_CLOEXEC != 0)
    }
}
