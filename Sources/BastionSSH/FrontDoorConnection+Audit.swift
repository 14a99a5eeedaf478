import BastionCore
import Foundation
import Logging

extension FrontDoorConnection {
    /// An audit event about this connection, as its user (once authenticated).
    func event(_ type: AuditEventType, outcome: AuditEvent.Outcome, target: String, reason: String?, details: [String: String]) -> AuditEvent {
        // Came in through `ssh -J`: the outer connection's record has the channel.
        let details = context.auditDetails(details)
        return AuditEvent(
            type: type, time: services.clock.now(), outcome: outcome,
            actor: identity.map { identity in
                var actor = AuditEvent.Actor(user: identity.user.name.rawValue, method: identity.methodName)
                if case .certificate(let certificate) = identity.method { actor.certificateSerial = String(certificate.serial) }
                return actor
            },
            connection: .init(id: context.id, remoteAddress: context.remoteAddress, remotePort: context.remotePort, sshUsername: authentication.sshUsername),
            // The session block (schema v2); `details.session_id` stays for rules written against v1.
            session: details[.sessionID].map { AuditEvent.Session(id: SessionID(rawValue: $0), login: details[.login]) },
            target: target, reason: reason, details: details
        )
    }

    /// Appends an event; false (and a loud log line) when the audit log refused it, so that
    /// the caller does not perform the action it records.
    @discardableResult
    func auditOrRefuse(_ type: AuditEventType, outcome: AuditEvent.Outcome, target: String, reason: String?, details: [String: String]) -> Bool {
        do {
            try services.audit.append(event(type, outcome: outcome, target: target, reason: reason, details: details))
            return true
        } catch {
            logger.error("audit append failed: refusing the action it records", metadata: ["type": "\(type.name)", "error": "\(error)"])
            return false
        }
    }

    func audit(_ type: AuditEventType, outcome: AuditEvent.Outcome, target: String, reason: String?, details: [String: String]) {
        do { try services.audit.append(event(type, outcome: outcome, target: target, reason: reason, details: details)) } catch {
            logger.error("audit append failed", metadata: ["type": "\(type.name)", "error": "\(error)"])
        }
    }
}
