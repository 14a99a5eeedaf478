public import Foundation
#if canImport(Glibc)
import Glibc
#endif

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
        public var id: ConnectionID
        public var remoteAddress: String
        public var remotePort: Int
        public var sshUsername: String?

        public init(id: ConnectionID, remoteAddress: String, remotePort: Int, sshUsername: String? = nil) {
            self.id = id
            self.remoteAddress = remoteAddress
            self.remotePort = remotePort
            self.sshUsername = sshUsername
        }
    }

    /// Which relayed session: its id (the recording's file name) and the login on the target.
    public struct Session: Sendable, Hashable, Codable {
        public var id: SessionID
        public var login: String?

        public init(id: SessionID, login: String? = nil) {
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
        var json = CanonicalJSONWriter()
        json.beginObject()
        if let actor {
            json.key("actor")
            json.beginObject()
            json.member("certificateSerial", actor.certificateSerial)
            json.member("keyFingerprint", actor.keyFingerprint)
            json.member("method", actor.method)
            json.member("user", actor.user)
            json.endObject()
        }
        json.member("code", type.code)
        if let connection {
            json.key("connection")
            json.beginObject()
            json.member("id", connection.id.rawValue)
            json.member("remoteAddress", connection.remoteAddress)
            json.member("remotePort", connection.remotePort)
            json.member("sshUsername", connection.sshUsername)
            json.endObject()
        }
        if !details.isEmpty {
            json.key("details")
            json.beginObject()
            for key in details.keys.sorted() { json.member(key, details[key]) }
            json.endObject()
        }
        json.member("outcome", outcome.rawValue)
        json.member("reason", reason)
        if let session {
            json.key("session")
            json.beginObject()
            json.member("id", session.id.rawValue)
            json.member("login", session.login)
            json.endObject()
        }
        json.member("severity", type.severity.rawValue)
        json.member("target", target)
        json.member("time", Self.timestamp(time))
        json.member("type", type.name)
        json.member("v", Self.schemaVersion)
        json.endObject()
        return json.bytes
    }

    /// The same bytes through Foundation's `JSONEncoder` (sorted keys, unescaped slashes):
    /// the reference ``canonicalJSON()`` is tested against.
    public func referenceJSON() -> [UInt8] {
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
        return Array((try? encoder.encode(wire)) ?? Data())
    }

    /// RFC 3339 UTC with milliseconds: the form of `time` in records, which sorts as text.
    /// Milliseconds are truncated, never rounded up, so a record's time never runs ahead of
    /// the moment it describes.
    public static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds >= 0 ? milliseconds / 1000 : (milliseconds - 999) / 1000)
        let fraction = Int(milliseconds - Int64(seconds) * 1000)
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return "invalid-time" }
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(fraction), 3))Z"
    }
}

extension AuditEvent {
    /// Reads an event back from its canonical JSON (a stored record's `event`), for sinks
    /// that re-format it. Unknown types keep their name and code as written.
    public init(canonicalJSON bytes: [UInt8]) throws {
        struct Wire: Decodable {
            var type: String
            var code: String
            var time: String
            var outcome: Outcome
            var actor: Actor?
            var connection: Connection?
            var session: Session?
            var target: String?
            var reason: String?
            var details: [String: String]?
        }
        let wire = try JSONDecoder().decode(Wire.self, from: Data(bytes))
        guard let time = Self.parseTimestamp(wire.time) else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "time \(wire.time) is not RFC 3339 with milliseconds"))
        }
        self.init(
            type: AuditEventType.all.first { $0.name == wire.type && $0.code == wire.code } ?? AuditEventType(wire.type, code: wire.code),
            time: time, outcome: wire.outcome, actor: wire.actor, connection: wire.connection, session: wire.session,
            target: wire.target, reason: wire.reason, details: wire.details ?? [:]
        )
    }

    /// Parses ``timestamp(_:)``'s form back to the same millisecond.
    public static func parseTimestamp(_ text: String) -> Date? {
        guard let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) else { return nil }
        return date
    }
}
