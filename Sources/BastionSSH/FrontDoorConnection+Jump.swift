import BastionCore
import CLibSSH
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// One `ssh -J` channel: the outer connection's `direct-tcpip` channel bridged to a socket
/// pair whose other end an inner connection (Bastion's own SSH server) serves. The bridge
/// is a ``DirectTCPIPForward`` over the pair; its socket sits in the connection's event while
/// the pump would read it, so inner output moves as it comes.
final class JumpBridge {
    let forward: DirectTCPIPForward
    let target: String
    var inEvent = false

    init(forward: DirectTCPIPForward, target: String) {
        self.forward = forward
        self.target = target
    }
}

extension FrontDoorConnection {
    /// Answers a `direct-tcpip` channel to a declared target with an inner connection (the
    /// ordinary login, policy, certificate, recording and audit path, inside the channel).
    /// Audited as a forward with `via: jump`; `allow_direct_tcpip` does not apply.
    func openJump(_ message: ssh_message, to target: TargetDefinition, endpoint: EnforcementFacts.Forward) -> Int32 {
        guard let identity, phase.isOpen else { return 1 }
        // Each jump is an inner connection on a thread of its own: as many at once as the
        // sessions one connection may hold.
        let limit = services.sessions.policy.maxSessions(forRoles: identity.user.roles)
        guard jumps.count < limit else {
            refuseForwarding("ssh -J to \(target.name) past max_sessions (\(limit)) on one connection")
            return 1
        }
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            logger.error("socketpair failed: refusing a jump", metadata: ["errno": "\(errno)"])
            return 1
        }
        _ = fcntl(pair[0], F_SETFL, fcntl(pair[0], F_GETFL) | O_NONBLOCK)
        let details = ["destination": endpoint.destination, "via": "jump", "jump_target": target.name]
        guard auditOrRefuse(.forwardOpen, outcome: .success, target: target.name, reason: nil, details: details) else {
            Glibc.close(pair[0])
            Glibc.close(pair[1])
            return 1
        }
        let inner = JumpContext(
            target: target.name, user: identity.user.name, outerConnection: context.id,
            source: Peer(address: context.remoteAddress, port: context.remotePort)
        )
        guard acceptJump(pair[1], inner) else {
            Glibc.close(pair[0])
            audit(.forwardClose, outcome: .failure, target: target.name, reason: "inner server did not start", details: details)
            return 1
        }
        guard let channel = ssh_message_channel_request_open_reply_accept(message) else {
            Glibc.close(pair[0])  // the inner connection reads end of file and ends
            return 1
        }
        logger.info("jump opened", metadata: ["target": "\(target.name)"])
        jumps.append(JumpBridge(forward: DirectTCPIPForward(channel: channel, socket: pair[0], endpoint: endpoint, now: services.clock.now()), target: target.name))
        return 0
    }

    /// Moves bytes on every jump, keeps each socket in the event while its pump would read,
    /// and closes the finished ones.
    func serviceJumps(event: ssh_event?) {
        guard !jumps.isEmpty else { return }
        let now = services.clock.now()
        jumps.removeAll { bridge in
            guard !bridge.forward.pump(now: now) else {
                if let event { watch(bridge, event: event, reading: bridge.forward.wantsSocketReads) }
                return false
            }
            closeJump(bridge, event: event, reason: "closed")
            return true
        }
    }

    /// Every jump ends with the connection (their inner connections read end of file).
    func closeJumps(event: ssh_event?) {
        jumps.forEach { closeJump($0, event: event, reason: "connection closed") }
        jumps.removeAll()
    }

    private func closeJump(_ bridge: JumpBridge, event: ssh_event?, reason: String) {
        if let event { watch(bridge, event: event, reading: false) }
        audit(.forwardClose, outcome: .success, target: bridge.target, reason: nil, details: [
            "destination": bridge.forward.endpoint.destination, "via": "jump", "jump_target": bridge.target, "end_reason": reason,
            "bytes_up": String(bridge.forward.bytesUp), "bytes_down": String(bridge.forward.bytesDown),
        ])
        bridge.forward.close()
    }

    private func watch(_ bridge: JumpBridge, event: ssh_event, reading: Bool) {
        guard bridge.inEvent != reading else { return }
        if reading {
            // The callback only wakes the poll; the loop's next turn pumps.
            bridge.inEvent = ssh_event_add_fd(event, bridge.forward.descriptor, Int16(POLLIN), { _, _, _ in 0 }, nil) == SSH_OK
        } else {
            ssh_event_remove_fd(event, bridge.forward.descriptor)
            bridge.inEvent = false
        }
    }
}
