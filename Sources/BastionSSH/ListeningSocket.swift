import CLibSSH
#if canImport(Glibc)
import Glibc
#endif

/// The front door's TCP listening socket, made by Bastion rather than by libssh.
///
/// libssh's `ssh_bind_listen` uses a backlog of 10: a burst of connects (a CI runner's
/// Ansible, an office after lunch) has SYNs dropped and waits 1, 3, 7 s for retransmits.
/// Here the backlog is the kernel's maximum (`SOMAXCONN`, at least 128, as sshd), the
/// socket is non-blocking for the admission loop, and accepted sockets go to libssh with
/// `ssh_bind_accept_fd`.
struct ListeningSocket {
    let fd: Int32
    let port: Int

    static let backlog = max(128, Int32(SOMAXCONN))

    /// Binds `host:port` (port 0: a free one) and listens.
    static func open(host: String, port: Int) throws -> ListeningSocket {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var results: UnsafeMutablePointer<addrinfo>?
        let lookup = getaddrinfo(host, String(port), &hints, &results)
        guard lookup == 0, let first = results else {
            throw SSHError(.bind, "listen on \(host):\(port): \(String(cString: gai_strerror(lookup)))")
        }
        defer { freeaddrinfo(results) }
        var lastError = "no address"
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { continue }
            var on: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
            if bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, listen(fd, backlog) == 0 {
                return ListeningSocket(fd: fd, port: LibSSH.localPort(fd: fd) ?? port)
            }
            lastError = String(cString: strerror(errno))
            close(fd)
        }
        throw SSHError(.bind, "listen on \(host):\(port): \(lastError)")
    }

    /// The next pending connection (blocking, as libssh expects; close-on-exec; TCP_NODELAY);
    /// nil when none is pending.
    ///
    /// TCP_NODELAY because the relay writes whole SSH packets, already coalesced, and some of
    /// them are small and urgent: an SFTP status or a window adjust held back by Nagle until the
    /// client's delayed ACK (40 ms on Linux) stalled every SFTP upload through Bastion
    /// (40 MiB/s against 200 with it; `perf sched timehist` showed the 40 ms gaps). libssh
    /// sets it only on client sessions that ask (`SSH_OPTIONS_NODELAY`, as the upstream does).
    func accept() -> Int32? {
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { return nil }
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)
        var on: Int32 = 1
        setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        return client
    }
}
