#if canImport(Glibc)
import Glibc
#endif

/// A connected, blocking TCP socket: connect with a deadline, write everything or fail, tell
/// whether the peer has closed. Owned by one thread (the sink's); not `Sendable`.
final class TCPSocket {
    let descriptor: Int32
    let endpoint: SyslogEndpoint

    private init(descriptor: Int32, endpoint: SyslogEndpoint) {
        self.descriptor = descriptor
        self.endpoint = endpoint
    }

    deinit {
        Glibc.close(descriptor)
    }

    /// Resolves `endpoint` and connects to the first address that answers within `timeout`.
    /// Writes block for at most `sendTimeout` (a receiver that stops reading must surface as
    /// an error, not as a sink thread stuck forever).
    static func connect(to endpoint: SyslogEndpoint, timeout: Duration, sendTimeout: Duration) throws(SIEMError) -> TCPSocket {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let resolved = getaddrinfo(endpoint.host, String(endpoint.port), &hints, &list)
        guard resolved == 0, let first = list else {
            throw SIEMError(.connectionFailed, "cannot resolve \(endpoint): \(String(cString: gai_strerror(resolved)))")
        }
        defer { freeaddrinfo(list) }
        var reason = "no address"
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            cursor = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            guard fd >= 0 else {
                reason = String(cString: strerror(errno))
                continue
            }
            if let failure = connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen, timeout: timeout) {
                reason = failure
                Glibc.close(fd)
                continue
            }
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            var sendLimit = timeval(sendTimeout)
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendLimit, socklen_t(MemoryLayout<timeval>.size))
            return TCPSocket(descriptor: fd, endpoint: endpoint)
        }
        throw SIEMError(.connectionFailed, "connect to \(endpoint) failed: \(reason)")
    }

    /// Non-blocking connect, then poll for at most `timeout`: a blocking connect to a host
    /// that drops SYNs waits for the kernel's two-minute timeout. Returns the failure, or nil.
    private static func connect(_ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>, _ length: socklen_t, timeout: Duration) -> String? {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        if Glibc.connect(fd, address, length) == 0 { return nil }
        guard errno == EINPROGRESS else { return String(cString: strerror(errno)) }
        var pending = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        var ready: Int32
        repeat { ready = poll(&pending, 1, milliseconds) } while ready < 0 && errno == EINTR
        guard ready > 0 else { return ready == 0 ? "timed out after \(timeout)" : String(cString: strerror(errno)) }
        var error: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &size)
        return error == 0 ? nil : String(cString: strerror(error))
    }

    /// Writes all of `bytes` (MSG_NOSIGNAL: a closed peer is an error, not a SIGPIPE).
    func write(_ bytes: [UInt8]) throws(SIEMError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                Glibc.send(descriptor, buffer.baseAddress! + offset, buffer.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                let reason = errno == EAGAIN || errno == EWOULDBLOCK ? "send timed out (receiver not reading)" : String(cString: strerror(errno))
                throw SIEMError(.sendFailed, "send to \(endpoint) failed: \(reason)")
            }
            offset += written
        }
    }

    /// Whether the peer has closed its side (EOF or reset), without blocking: checked before a
    /// send because TCP accepts a write to a half-closed connection and loses it, and a
    /// syslog receiver never sends, so EOF is the only thing there is to read.
    var peerHasClosed: Bool {
        var byte: UInt8 = 0
        let read = recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if read == 0 { return true }
        return read < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR
    }

    /// Whether there are bytes to read right now (TLS records: session tickets, alerts).
    var hasPendingInput: Bool {
        var byte: UInt8 = 0
        return recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) > 0
    }

    /// Half-closes, then reads until the peer closes too (at most `timeout`), so that
    /// nothing unread sits in our receive buffer when we close: closing with unread input
    /// sends a reset, and a reset can make the receiver discard the last messages it has not
    /// processed yet. When the peer's EOF arrives it has read everything we sent.
    func shutdownAndDrain(timeout: Duration) {
        Glibc.shutdown(descriptor, Int32(SHUT_WR))
        var limit = timeval(timeout)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            let read = recv(descriptor, &scratch, scratch.count, 0)
            if read > 0 { continue }
            if read < 0 && errno == EINTR { continue }
            return
        }
    }
}

extension timeval {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self.init(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }
}
