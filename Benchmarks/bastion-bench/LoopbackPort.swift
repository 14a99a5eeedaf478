#if canImport(Glibc)
import Glibc
#endif

/// Loopback ports for the daemons under test, chosen at run time so that two runs (or a
/// test suite running alongside) never collide on a fixed number.
enum LoopbackPort {
    /// A port the kernel considers free right now: bind 127.0.0.1:0, read the port, close.
    /// Another process could take it before the daemon binds it; the window is milliseconds.
    static func free() throws(BenchError) -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw BenchError("bind 127.0.0.1:0: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw BenchError("getsockname: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether an SSH server answers on 127.0.0.1:`port` now: it accepts, sends its
    /// identification line (RFC 4253 §4.2), and gets ours back before we hang up. A bare
    /// connect-and-close would also do, but sshd logs that as an error
    /// ("kex_exchange_identification"), which would hide real errors in the report.
    static func answersSSH(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return false }
        var received: [UInt8] = []
        var byte: UInt8 = 0
        while received.count < 255, recv(fd, &byte, 1, 0) == 1 {
            if byte == UInt8(ascii: "\n") { break }
            received.append(byte)
        }
        guard received.starts(with: Array("SSH-".utf8)) else { return false }
        let banner = Array("SSH-2.0-bastion_bench_probe\r\n".utf8)
        _ = send(fd, banner, banner.count, Int32(MSG_NOSIGNAL))
        return true
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }
}
