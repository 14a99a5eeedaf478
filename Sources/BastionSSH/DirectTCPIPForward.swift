import BastionCore
import CLibSSH
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One `direct-tcpip` channel (`ssh -L`, `ssh -W`) that a role allows: Bastion connects to
/// the destination itself and moves bytes between the channel and the socket. Logged, not
/// recorded. Owned by the connection thread alone; the same pending-buffer rule as
/// ``SessionRelay`` keeps bytes that a full socket or channel window did not take.
final class DirectTCPIPForward {
    let channel: ssh_channel
    let endpoint: EnforcementFacts.Forward
    /// The last byte either way (idle time of a connection that only forwards).
    private(set) var lastActivity: Date
    private let socket: Int32
    private var toSocket: [UInt8] = []
    private var toChannel: [UInt8] = []
    private var socketEOF = false
    private var channelEOFSent = false
    private var socketWriteShut = false
    private var buffer = [UInt8](repeating: 0, count: 32 * 1024)
    private(set) var bytesUp = 0
    private(set) var bytesDown = 0
    private var bytesAtLastPump = 0

    init(channel: ssh_channel, socket: Int32, endpoint: EnforcementFacts.Forward, now: Date) {
        self.channel = channel
        self.socket = socket
        self.endpoint = endpoint
        self.lastActivity = now
    }

    /// The socket, for an event loop to watch (``wantsSocketReads``).
    var descriptor: Int32 { socket }

    /// Whether the next pump would read the socket: a poll on it for reading then wakes the
    /// pump; otherwise (bytes held for a full window, or end of file) it would spin.
    var wantsSocketReads: Bool { toChannel.isEmpty && !socketEOF && ssh_channel_window_size(channel) > 0 }

    /// Whether bytes wait for a full socket or channel window (the pump must retry soon: no
    /// poll wakes it for that).
    var holdsBytes: Bool { !toSocket.isEmpty || !toChannel.isEmpty }

    /// Connects to `host:port` within `timeout`; returns a non-blocking socket.
    static func connect(host: String, port: Int, timeout: TimeInterval) -> Int32? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var results: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &results) == 0, let first = results else { return nil }
        defer { freeaddrinfo(results) }
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            let fd = Glibc.socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            guard fd >= 0 else { continue }
            if Glibc.connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 { return fd }
            guard errno == EINPROGRESS else {
                Glibc.close(fd)
                continue
            }
            var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            if poll(&poller, 1, Int32(timeout * 1000)) == 1, getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0, error == 0 {
                return fd
            }
            Glibc.close(fd)
        }
        return nil
    }

    /// Moves what can move now; returns true while the forward is open.
    func pump(now: Date) -> Bool {
        var moved = true
        defer { if bytesUp + bytesDown != bytesAtLastPump { lastActivity = now; bytesAtLastPump = bytesUp + bytesDown } }
        while moved {
            moved = false
            // Channel -> socket.
            if toSocket.isEmpty, !socketWriteShut {
                let count = buffer.withUnsafeMutableBytes { ssh_channel_read_nonblocking(channel, $0.baseAddress, UInt32($0.count), 0) }
                if count > 0 { toSocket = Array(buffer[0..<Int(count)]) }
            }
            if !toSocket.isEmpty {
                let sent = toSocket.withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                if sent > 0 {
                    toSocket.removeFirst(sent)
                    bytesUp += sent
                    moved = true
                } else if sent < 0, errno != EAGAIN, errno != EWOULDBLOCK {
                    return false
                }
            }
            if toSocket.isEmpty, !socketWriteShut, ssh_channel_is_eof(channel) != 0, ssh_channel_poll(channel, 0) <= 0 {
                shutdown(socket, Int32(SHUT_WR))
                socketWriteShut = true
            }
            // Socket -> channel.
            let window = Int(ssh_channel_window_size(channel))
            if toChannel.isEmpty, !socketEOF, window > 0 {
                let received = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, min($0.count, window), Int32(MSG_DONTWAIT)) }
                if received > 0 {
                    toChannel = Array(buffer[0..<received])
                } else if received == 0 {
                    socketEOF = true
                } else if errno != EAGAIN, errno != EWOULDBLOCK {
                    socketEOF = true
                }
            }
            if !toChannel.isEmpty {
                let written = toChannel.withUnsafeBytes { ssh_channel_write(channel, $0.baseAddress, UInt32($0.count)) }
                if written > 0 {
                    toChannel.removeFirst(Int(written))
                    bytesDown += Int(written)
                    moved = true
                }
            }
            if socketEOF, toChannel.isEmpty, !channelEOFSent {
                ssh_channel_send_eof(channel)
                channelEOFSent = true
            }
        }
        if ssh_channel_is_closed(channel) != 0 { return false }
        if channelEOFSent, socketWriteShut {
            ssh_channel_close(channel)
            return false
        }
        return true
    }

    /// Closes the socket and frees the channel.
    func close() {
        Glibc.close(socket)
        if ssh_channel_is_closed(channel) == 0 { ssh_channel_close(channel) }
        ssh_channel_free(channel)
    }
}
