public import Foundation

/// One security-relevant fact, as it will be appended to the audit log.
///
/// Metadata blocks (actor, connection, session, target) have fixed shapes so that SIEM rules
/// and the hash chain see one canonical form; free-form facts go in `details`.
public struct AuditEvent: Sendable, Hashable {
    public var type: AuditEventType
    public var time: Date
    public var outcome: Outcome
    public var actor: Actor?
    public var connection: Connection?
    public var session: Session?
    public var target: String?
    /// Why something was refused: for the audit log only, never for the peer.
    public var reason: String?
    public var details: [String: String]

    public enum Outcome: String, Sendable, Codable { case success, failure }

    /// Who acted: a Bastion user (possibly not yet authenticated) or an administrator.
    public struct Actor: Sendable, Hashable, Codable {
        public var user: String?
        /// `publickey`, `publickey+totp`, `certificate`, `admin-cli`.
        public var method: String?
        public var keyFingerprint: String?
        public var certificateSerial: String?

        public init(user: String?, method: String? = nil, keyFingerprint: String? = nil, certificateSerial: String? = nil) {
            self.user = user
            self.method = method
            self.keyFingerprint = keyFingerprint
            self.certificateSerial = certificateSerial
        }
    }

    /// Where from: one SSH connection.
    public struct Connection: Sendable, Hashable, Codable {
        public var id: String
        public var remoteAddress: String
        public var remotePort: Int
        public var sshUsername: String?

        public init(id: String, remoteAddress: String, remotePort: Int, sshUsername: String? = nil) {
            self.id = id
            self.remoteAddress = remoteAddress
            self.remotePort = remotePort
            self.sshUsername = sshUsername
        }
    }

    /// Which relayed session: its id (the recording's file name) and the login on the target.
    public struct Session: Sendable, Hashable, Codable {
        public var id: String
        public var login: String?

        public init(id: String, login: String? = nil) {
            self.id = id
            self.login = login
        }
    }

    public init(
        type: AuditEventType, time: Date, outcome: Outcome = .success, actor: Actor? = nil,
        connection: Connection? = nil, session: Session? = nil, target: String? = nil, reason: String? = nil,
        details: [String: String] = [:]
    ) {
        self.type = type
        self.time = time
        self.outcome = outcome
        self.actor = actor
        self.connection = connection
        self.session = session
        self.target = target
        self.reason = reason
        self.details = details
    }
}

extension AuditEvent {
    /// Schema version of ``canonicalJSON()``; bump on any change (docs/audit-event.schema.json).
    /// v2 added the `session` block (v1 carried `session_id` in `details`).
    public static let schemaVersion = 2

    /// The canonical encoding: sorted keys, no insignificant whitespace, RFC 3339 UTC
    /// time with milliseconds. The hash chain hashes exactly these bytes, inside the
    /// record envelope (``AuditRecord``).
    public func canonicalJSON() -> [UInt8] {
        struct Wire: Encodable {
            var v: Int
            var type: String
            var code: String
            var severity: AuditSeverity
            var time: String
            var outcome: Outcome
            var actor: Actor?
            var connection: Connection?
            var session: Session?
            var target: String?
            var reason: String?
            var details: [String: String]?
        }
        let wire = Wire(
            v: Self.schemaVersion, type: type.name, code: type.code, severity: type.severity,
            time: Self.timestamp(time), outcome: outcome, actor: actor, connection: connection,
            session: session, target: target, reason: reason, details: details.isEmpty ? nil : details
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding plain strings and integers cannot fail.
        return Array((try? encoder.encode(wire)) ?? Data())
    }

    /// RFC 3339 UTC with milliseconds: the form of `time` in records, which sorts as text.
    public static func timestamp(_ date: Date) -> String {
        var style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        style.timeZone = TimeZone(identifier: "UTC")!
        return date.formatted(style)
    }
}
