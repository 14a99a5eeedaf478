import BastionCore
import CLibSSH
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

extension FrontDoorConnection {
    /// `direct-tcpip` (`ssh -L`, `ssh -W`): opened only to destinations a role of the user
    /// lists in `allow_direct_tcpip`; everything else is refused and audited.
    func openDirectTCPIP(_ message: ssh_message) -> Int32 {
        let host = ssh_message_channel_request_open_destination(message).map { String(cString: $0) } ?? ""
        let port = Int(ssh_message_channel_request_open_destination_port(message))
        let destination = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        guard let identity, services.sessions.policy.allowsDirectTCPIP(forRoles: identity.user.roles, host: host, port: port) else {
            refuseForwarding("local port forwarding (direct-tcpip) to \(destination)")
            return 1
        }
        guard let socket = DirectTCPIPForward.connect(host: host, port: port, timeout: services.sessions.settings.connectTimeout) else {
            refuseForwarding("direct-tcpip to \(destination): destination unreachable")
            return 1
        }
        // No record, no forward: the open is audited before the channel is accepted.
        guard auditOrRefuse(.forwardOpen, outcome: .success, target: destination, reason: nil, details: ["destination": destination]) else {
            Glibc.close(socket)
            return 1
        }
        guard let channel = ssh_message_channel_request_open_reply_accept(message) else {
            Glibc.close(socket)
            return 1
        }
        forwards.append(DirectTCPIPForward(channel: channel, socket: socket, destination: destination))
        return 0
    }

    /// Moves bytes on every open forward and closes the finished ones.
    func serviceForwards() {
        guard !forwards.isEmpty else { return }
        forwards.removeAll { forward in
            guard !forward.pump() else { return false }
            audit(.forwardOpen, outcome: .success, target: forward.destination, reason: nil, details: [
                "destination": forward.destination, "state": "closed",
                "bytes_up": String(forward.bytesUp), "bytes_down": String(forward.bytesDown),
            ])
            forward.close()
            return true
        }
    }

    /// Frees every forward (the connection is ending).
    func closeForwards() {
        forwards.forEach { $0.close() }
        forwards.removeAll()
    }
}
