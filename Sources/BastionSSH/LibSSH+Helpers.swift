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
