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
