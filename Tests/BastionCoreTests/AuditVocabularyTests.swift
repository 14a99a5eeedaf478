import BastionCore
import Foundation
import Testing

/// The audit vocabulary in code, in docs/audit-events.md and in the JSON Schema stay one.
@Suite("Audit vocabulary")
struct AuditVocabularyTests {
    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs")

    @Test("names and codes are unique and well-formed")
    func unique() {
        let all = AuditEventType.all
        #expect(Set(all.map(\.name)).count == all.count)
        #expect(Set(all.map(\.code)).count == all.count)
        for type in all {
            #expect(type.code.wholeMatch(of: /B[0-9]{4}[IWEC]/) != nil, "\(type)")
            #expect(type.name.wholeMatch(of: /[a-z]+(\.[a-z_]+)+/) != nil, "\(type)")
        }
    }

    @Test("every type is in the documented table and the JSON Schema, with its code")
    func documented() throws {
        let table = try String(contentsOf: Self.docs.appendingPathComponent("audit-events.md"), encoding: .utf8)
        let schemaData = try Data(contentsOf: Self.docs.appendingPathComponent("audit-event.schema.json"))
        let schema = try #require(try JSONSerialization.jsonObject(with: schemaData) as? [String: Any])
        let properties = try #require(schema["properties"] as? [String: Any])
        let types = try #require((properties["type"] as? [String: Any])?["enum"] as? [String])
        for type in AuditEventType.all {
            #expect(table.contains("| \(type.code) | `\(type.name)` |"), "\(type) missing from docs/audit-events.md")
            #expect(types.contains(type.name), "\(type) missing from the schema")
        }
        #expect(types.count == AuditEventType.all.count)
    }

    @Test("a canonical record uses only the schema's fields, sorted, and round-trips")
    func canonicalShape() throws {
        let event = AuditEvent(
            type: .certIssue, time: Date(timeIntervalSince1970: 1_800_000_000), outcome: .success,
            actor: .init(user: "alice", method: "publickey+totp", keyFingerprint: "SHA256:abc"),
            connection: .init(id: "c1", remoteAddress: "::1", remotePort: 4000, sshUsername: "alice"),
            details: ["serial": "7", "b": "x"]
        )
        let json = event.canonicalJSON()
        #expect(json == event.canonicalJSON(), "canonical means deterministic")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json)) as? [String: Any])
        let schemaData = try Data(contentsOf: Self.docs.appendingPathComponent("audit-event.schema.json"))
        let schema = try #require(try JSONSerialization.jsonObject(with: schemaData) as? [String: Any])
        let allowed = Set((schema["properties"] as? [String: Any])?.keys.map { $0 } ?? [])
        #expect(Set(object.keys).isSubset(of: allowed))
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.hasPrefix(#"{"actor":{"keyFingerprint":"SHA256:abc","method":"publickey+totp","user":"alice"},"code":"B1100I""#))
        #expect(text.contains(#""details":{"b":"x","serial":"7"}"#))
    }
}

/// The hand-written canonical encoding is byte for byte what Foundation's encoder writes.
@Suite("Canonical JSON")
struct CanonicalJSONTests {
    @Test("matches JSONEncoder (sorted keys, unescaped slashes) for awkward values")
    func matchesReference() {
        let awkward = ["plain", "quote\" back\\slash /slash", "tab\t nl\n cr\r bs\u{8} ff\u{C} nul\u{0} esc\u{1B} del\u{7F}", "ünïcødé ✓ 🔐", ""]
        for (index, text) in awkward.enumerated() {
            let event = AuditEvent(
                type: .sessionEnd, time: Date(timeIntervalSince1970: 1_800_000_000.123 + Double(index) * 0.0004),
                outcome: .failure, actor: .init(user: text, method: "m", keyFingerprint: "SHA256:x/y+z", certificateSerial: "18446744073709551615"),
                connection: .init(id: ConnectionID(rawValue: text), remoteAddress: "::1", remotePort: 65_535, sshUsername: text), session: .init(id: "s1", login: text),
                target: text, reason: text, details: [text: text, "b": "x", "a": "y", "Z": "z", "_": "u"]
            )
            #expect(event.canonicalJSON() == event.referenceJSON(), "\(String(decoding: event.canonicalJSON(), as: UTF8.self))")
        }
        let bare = AuditEvent(type: .serverStart, time: Date(timeIntervalSince1970: 0))
        #expect(bare.canonicalJSON() == bare.referenceJSON())
    }

    @Test("timestamps are RFC 3339 UTC with milliseconds, truncated, matching ISO8601FormatStyle")
    func timestamps() {
        var style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        style.timeZone = TimeZone(identifier: "UTC")!
        for seconds in [0, 1_800_000_000.5, 1_800_000_000.9999, 951_782_400.001, 4_102_444_799.999, 1_700_000_000.123456] {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(AuditEvent.timestamp(date) == date.formatted(style), "\(seconds)")
        }
        #expect(AuditEvent.timestamp(Date(timeIntervalSince1970: 1_800_000_000.9999)) == "2027-01-15T08:00:00.999Z")
    }
}

@Suite("Audit event decoding")
struct AuditEventDecodingTests {
    @Test("an event read back from its canonical JSON re-encodes to the same bytes")
    func roundTrip() throws {
        let event = AuditEvent(
            type: .sessionEnd, time: Date(timeIntervalSince1970: 1_800_000_000.123), outcome: .failure,
            actor: .init(user: "alice", method: "certificate", certificateSerial: "9"),
            connection: .init(id: "c1", remoteAddress: "::1", remotePort: 5, sshUsername: "root@web01"), session: .init(id: "s1", login: "root"),
            target: "web01", reason: "idle \"timeout\"", details: ["exit_status": "0"]
        )
        let decoded = try AuditEvent(canonicalJSON: event.canonicalJSON())
        #expect(decoded.canonicalJSON() == event.canonicalJSON())
        #expect(decoded.type == .sessionEnd)
        #expect(throws: (any Error).self) { try AuditEvent(canonicalJSON: Array("{}".utf8)) }
    }
}

@Suite("SIEM backlog alarm and backoff")
struct BacklogAlarmTests {
    @Test("raises once when depth or age crosses its limit, clears once when both are back")
    func transitions() {
        var alarm = BacklogAlarm(maximumDepth: 100, maximumAge: 60)
        let now = Date(timeIntervalSince1970: 1_000)
        #expect(alarm.observe(depth: 50, oldestPending: now.addingTimeInterval(-10), now: now) == nil)
        #expect(alarm.observe(depth: 150, oldestPending: now.addingTimeInterval(-10), now: now) == .raised(reason: "150 records undelivered (limit 100)"))
        #expect(alarm.observe(depth: 200, oldestPending: now.addingTimeInterval(-90), now: now) == nil, "still raised: no repeat")
        #expect(alarm.observe(depth: 10, oldestPending: now.addingTimeInterval(-90), now: now) == nil, "age still over")
        #expect(alarm.observe(depth: 0, oldestPending: nil, now: now) == .cleared)
        #expect(alarm.observe(depth: 0, oldestPending: now.addingTimeInterval(-61), now: now) == .raised(reason: "oldest undelivered record is 1m1s old (limit 1m)"))
    }

    @Test("backoff doubles to its cap, half fixed and half jitter")
    func backoff() {
        let backoff = DeliveryBackoff(base: 1, cap: 8)
        #expect((1...6).map { backoff.delay(attempt: $0, unit: 0) } == [0.5, 1, 2, 4, 4, 4])
        #expect((1...6).map { backoff.delay(attempt: $0, unit: 1) } == [1, 2, 4, 8, 8, 8])
    }
}
