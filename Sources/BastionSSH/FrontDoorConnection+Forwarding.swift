import BastionCore
import BastionCrypto
import CLibSSH
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

extension FrontDoorConnection {
    /// `direct-tcpip` (`ssh -L`, `ssh -W`): opened only to destinations a role of the user
    /// lists in `allow_direct_tcpip`, as the roles are at this moment (the enforcement point);
    /// everything else is refused and audited.
    func openDirectTCPIP(_ message: ssh_message) -> Int32 {
        let host = ssh_message_channel_request_open_destination(message).map { String(cString: $0) } ?? ""
        let port = Int(ssh_message_channel_request_open_destination_port(message))
        let endpoint = EnforcementFacts.Forward(host: host, port: port)
        let destination = endpoint.destination
        // `ssh -J`: a target's name (or address) is answered by Bastion's own server. Inside a
        // jump, destinations are ordinary ones (no jump within a jump).
        if jump == nil, let target = services.sessions.policy.jumpTarget(host: host, port: port) {
            return openJump(message, to: target, endpoint: endpoint)
        }
        guard let identity, phase.isOpen, admitChannel(.directTCPIP(endpoint)) else { return 1 }
        guard let socket = DirectTCPIPForward.connect(host: host, port: port, timeout: services.sessions.settings.connectTimeout) else {
            refuseForwarding("direct-tcpip to \(destination): destination unreachable")
            return 1
        }
        // No record, no forward: the open is audited (and a connection that only forwards is
        // listed for `session list`/`kill`) before the channel is accepted.
        guard auditOrRefuse(.forwardOpen, outcome: .success, target: destination, reason: nil, details: ["destination": destination]),
            registerForwards(adding: destination, identity: identity)
        else {
            Glibc.close(socket)
            return 1
        }
        guard let channel = ssh_message_channel_request_open_reply_accept(message) else {
            Glibc.close(socket)
            return 1
        }
        forwarding.open.append(DirectTCPIPForward(channel: channel, socket: socket, endpoint: endpoint, now: services.clock.now()))
        return 0
    }

    /// Lists the connection's forwards in the session registry: one row per connection that
    /// forwards (kind `forward`, target = the destinations so far), so an operator sees it
    /// and can kill it (which ends the whole connection, its relayed sessions included).
    private func registerForwards(adding destination: String, identity: AuthenticatedIdentity) -> Bool {
        let registry = services.sessions.registry
        if let id = forwarding.recordID {
            guard !forwarding.destinations.contains(destination) else { return true }
            forwarding.destinations.append(destination)
            try? registry.updateTarget(id: id, target: forwarding.destinations.joined(separator: ","))
            return true
        }
        let id = SessionID.random()
        do {
            try registry.register(SessionRecord(
                id: id, user: identity.user.name.rawValue, login: "", target: destination, sourceAddress: context.remoteAddress,
                kind: SessionRecord.forwardKind, startedAt: services.clock.now(), recording: nil
            ))
        } catch {
            logger.error("could not register a forward: refusing it", metadata: ["error": "\(error)"])
            return false
        }
        forwarding.recordID = id
        forwarding.destinations = [destination]
        return true
    }

    /// Moves bytes on every open forward and closes the finished ones.
    func serviceForwards() {
        guard !forwarding.open.isEmpty else { return }
        let now = services.clock.now()
        forwarding.open.removeAll { forward in
            guard !forward.pump(now: now) else { return false }
            auditClosed(forward, reason: "closed")
            forward.close()
            return true
        }
    }

    /// Closes the forwards that match, each audited with `reason`.
    func closeForwards(reason: EnforcementReason, where matches: (DirectTCPIPForward) -> Bool) {
        forwarding.open.removeAll { forward in
            guard matches(forward) else { return false }
            auditClosed(forward, reason: reason.auditReason)
            forward.close()
            return true
        }
    }

    /// Frees every forward and ends the connection's forward row (the connection is ending).
    func closeForwards() {
        forwarding.open.forEach {
            auditClosed($0, reason: "connection closed")
            $0.close()
        }
        forwarding.open.removeAll()
        endForwardRow(at: services.clock.now())
    }

    /// Marks the connection's forward row ended (once; the store may answer later).
    func endForwardRow(at now: Date) {
        guard let id = forwarding.recordID else { return }
        let registry = services.sessions.registry
        services.sessions.afterTheFact.run("forwards \(id) ended") { try registry.markEnded(id: id, at: now) }
        forwarding.recordID = nil
    }

    private func auditClosed(_ forward: DirectTCPIPForward, reason: String) {
        audit(.forwardClose, outcome: .success, target: forward.endpoint.destination, reason: nil, details: [
            "destination": forward.endpoint.destination, "end_reason": reason,
            "bytes_up": String(forward.bytesUp), "bytes_down": String(forward.bytesDown),
        ])
    }
}
