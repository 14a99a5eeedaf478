import CLibSSH
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Small conversions between libssh's C surface and Swift values.
enum LibSSH {
    static let authSuccess = Int32(SSH_AUTH_SUCCESS.rawValue)
    static let authDenied = Int32(SSH_AUTH_DENIED.rawValue)
    static let authPartial = Int32(SSH_AUTH_PARTIAL.rawValue)

    static func errorText(_ object: OpaquePointer?) -> String {
        guard let object, let text = ssh_get_error(UnsafeMutableRawPointer(object)) else { return "unknown error" }
        return String(cString: text)
    }

    /// Sends SSH_MSG_DISCONNECT with `message` and closes so that the client reads it.
    ///
    /// `ssh_disconnect` queues the message and closes the socket at once. libssh writes
    /// straight through only once a poll has seen the socket writable since its last write,
    /// so after other packets (the forwards' CHANNEL_CLOSE) the message stayed queued and was
    /// lost: one turn of `event` first lets it see that (the connection answers no message
    /// meanwhile, so that turn writes nothing). A client still sending would then
    /// meet a reset and lose the message unread: a duplicate descriptor keeps the socket open
    /// past libssh's close, half-closes after the message and reads until the client hangs
    /// up, up to `linger`.
    static func disconnect(_ session: ssh_session, event: ssh_event?, message: String, linger: TimeInterval) {
        ssh_session_set_disconnect_message(session, message)
        _ = ssh_blocking_flush(session, Int32(linger * 1000))
        if let event {
            // Until a turn finds no input waiting: input answered (a refused channel) is a write,
            // and only a turn after the last write leaves the socket marked writable.
            let fd = ssh_get_fd(session)
            for _ in 0..<10 {
                var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                let inputWaiting = poll(&poller, 1, 0) == 1
                _ = ssh_event_dopoll(event, 100)
                if !inputWaiting { break }
            }
        }
        let copy = dup(ssh_get_fd(session))
        ssh_disconnect(session)
        guard copy >= 0 else { return }
        defer { close(copy) }
        shutdown(copy, Int32(SHUT_WR))
        let deadline = Date().addingTimeInterval(linger)
        var buffer = [UInt8](repeating: 0, count: 4096)
        var poller = pollfd(fd: copy, events: Int16(POLLIN), revents: 0)
        while Date() < deadline, poll(&poller, 1, Int32(max(1, deadline.timeIntervalSinceNow * 1000))) == 1 {
            guard buffer.withUnsafeMutableBytes({ recv(copy, $0.baseAddress, $0.count, 0) }) > 0 else { return }
        }
    }

    /// The wire blob of a key (plain or certificate), as the client sent it.
    static func blob(of key: ssh_key) -> [UInt8]? {
        var base64: UnsafeMutablePointer<CChar>?
        guard ssh_pki_export_pubkey_base64(key, &base64) == SSH_OK, let base64 else { return nil }
        defer { ssh_string_free_char(base64) }
        return Data(base64Encoded: String(cString: base64)).map(Array.init)
    }

    /// The peer's address of a connected socket.
    static func peerAddress(fd: Int32) -> (address: String, port: Int) {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) == 0 }
        }
        guard ok else { return ("unknown", 0) }
        return socketAddress(storage)
    }

    /// The local port of a listening socket (for port 0 binds).
    static func localPort(fd: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        return ok ? socketAddress(storage).port : nil
    }

    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func socketAddress(_ storage: sockaddr_storage) -> (address: String, port: Int) {
        var storage = storage
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { addr in
                    var address = addr.pointee.sin_addr
                    inet_ntop(AF_INET, &address, &buffer, socklen_t(buffer.count))
                    return (text(buffer), Int(UInt16(bigEndian: addr.pointee.sin_port)))
                }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { addr in
                    var address = addr.pointee.sin6_addr
                    inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count))
                    return (text(buffer), Int(UInt16(bigEndian: addr.pointee.sin6_port)))
                }
            }
        default:
            return ("unknown", 0)
        }
    }
}
