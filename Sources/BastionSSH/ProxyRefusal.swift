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
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(wait * 1000)) == 1 else { return false }
        var buffer = [UInt8](repeating: 0, count: 16)
        let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_PEEK | MSG_DONTWAIT)) }
        return count > 0 && ProxyHeader.looksLikeHeader(Array(buffer.prefix(count)))
    }
}
