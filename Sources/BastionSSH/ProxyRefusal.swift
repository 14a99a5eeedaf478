import BastionCore
import CLibSSH
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// PROXY headers Bastion refuses: malformed, late or missing from a trusted proxy, or sent by
/// a source that is not one (a client trying to choose the address it is audited and limited by).
enum ProxyRefusal {
    static func audit(from peer: Peer, reason: String, services: FrontDoorServices, logger: Logger) {
        logger.warning("PROXY header refused", metadata: ["source": "\(peer.address)", "reason": "\(reason)"])
        try? services.audit.append(AuditEvent(
            type: .sshProxyRefused, time: services.clock.now(), outcome: .failure, actor: .init(user: nil, method: "daemon"),
            connection: .init(id: "-", remoteAddress: peer.address, remotePort: peer.port, sshUsername: nil), reason: reason
        ))
    }

    /// Whether an untrusted connection opens with a PROXY header: its first bytes, peeked
    /// (left for libssh), within `wait`. OpenSSH and every common client send their banner
    /// at once; one that waits for the server's costs `wait` once.
    static func startsWithHeader(fd: Int32, wait: TimeInterval) -> Bool {
        ProxyHeader.looksLikeHeader(firstBytes(fd: fd, wait: wait))
    }

    /// Up to 16 bytes the client sent first, peeked (left for libssh to read), waiting at most
    /// `wait` for them; empty when none came.
    static func firstBytes(fd: Int32, wait: TimeInterval) -> [UInt8] {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(wait * 1000)) == 1 else { return [] }
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_PEEK | MSG_DONTWAIT)) }
        return count > 0 ? Array(buffer.prefix(count)) : []
    }

    /// Whether `bytes` can begin a client's identification string: a client sends `SSH-`
    /// first (RFC 4253 §4.2; only a server may send other lines before it).
    static func canStartSSH(_ bytes: [UInt8]) -> Bool {
        let prefix = Array("SSH-".utf8)
        let length = min(bytes.count, prefix.count)
        return Array(bytes.prefix(length)) == Array(prefix.prefix(length))
    }
}
