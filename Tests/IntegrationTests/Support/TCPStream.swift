import BastionTesting
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP connection to 127.0.0.1 (from any loopback source) that sends and reads with deadlines, each wait on a thread
/// of its own (never on the cooperative pool that in-process bastionds share).
final class TCPStream: Sendable {
    private let fd: Int32

    /// Connects to 127.0.0.1:`port`, from `source` (another loopback address) when given.
    ///
    /// The descriptor becomes the stream's only once connected: a class whose stored properties
    /// are all set runs its deinit when init throws, and a second close here would close
    /// whatever descriptor the process opened in between (an in-process bastiond's NIO socket).
    init(port: Int, from source: String? = nil) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HarnessError(message: "socket() failed") }
        if let source {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(source)
            let bound = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else {
                Glibc.close(fd)
                throw HarnessError(message: "bind to \(source) failed")
            }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            Glibc.close(fd)
            throw HarnessError(message: "connect to 127.0.0.1:\(port) failed")
        }
        self.fd = fd
    }

    deinit { Glibc.close(fd) }

    /// Sends all of `bytes`, waiting up to `timeout` for room; false when the peer closed or
    /// stopped reading.
    func sendAll(_ bytes: [UInt8], timeout: TimeInterval = 5) -> Bool {
        var offset = 0
        let deadline = Date().addingTimeInterval(timeout)
        while offset < bytes.count {
            var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            guard poll(&poller, 1, Int32(max(0, deadline.timeIntervalSinceNow) * 1000)) == 1, poller.revents & Int16(POLLOUT) != 0 else { return false }
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if sent < 0, errno == EAGAIN { continue }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    /// Sends `bytes` at once (a raw client's banner or packet).
    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Sends `text` and reads until as many bytes came back or `timeout` passed.
    func roundTrip(_ text: String, timeout: TimeInterval = 10) async throws -> String {
        try await offPool { try self.roundTripBlocking(text, timeout: timeout) }
    }

    /// What the peer sends first (an SSH server's banner) within `timeout`; empty if nothing.
    func greeting(timeout: TimeInterval) async throws -> String {
        try await offPool { String(decoding: self.read(until: Date().addingTimeInterval(timeout)) ?? [], as: UTF8.self) }
    }

    /// Whether the peer closes the stream (EOF or reset) within `timeout`.
    func waitForClose(timeout: TimeInterval) async throws -> Bool {
        try await offPool { self.waitForCloseBlocking(timeout: timeout) }
    }

    private func roundTripBlocking(_ text: String, timeout: TimeInterval) throws -> String {
        let bytes = Array(text.utf8)
        guard bytes.withUnsafeBytes({ Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == bytes.count else {
            throw HarnessError(message: "send failed")
        }
        var received: [UInt8] = []
        let deadline = Date().addingTimeInterval(timeout)
        while received.count < bytes.count, let chunk = read(until: deadline), !chunk.isEmpty { received += chunk }
        return String(decoding: received, as: UTF8.self)
    }

    private func waitForCloseBlocking(timeout: TimeInterval) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            guard let chunk = read(until: deadline) else { return false }
            if chunk.isEmpty { return true }
        }
        return false
    }

    /// The next bytes; empty at EOF or on an error, nil when nothing came before `deadline`.
    private func read(until deadline: Date) -> [UInt8]? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let wait = Int32(max(0, deadline.timeIntervalSinceNow) * 1000)
        guard poll(&poller, 1, wait) == 1 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return count > 0 ? Array(buffer[0..<count]) : []
    }
}
