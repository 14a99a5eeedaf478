import BastionCore
import Foundation
import Testing

@Suite("Typed identifiers")
struct IdentifierTests {
    @Test("random ids have their documented length, are hex, and do not repeat")
    func randomShapes() {
        let sessions = (0..<200).map { _ in SessionID.random().rawValue }
        #expect(sessions.allSatisfy { $0.count == 16 && $0.allSatisfy(\.isHexDigit) && $0 == $0.lowercased() })
        #expect(Set(sessions).count == sessions.count)
        #expect(ConnectionID.random().rawValue.count == 12)
        #expect(ElevationID(typed: ElevationID.random().rawValue) != nil)
    }

    @Test(
        "an elevation id typed by a person is 8 lower-case hex digits or nothing",
        arguments: [
            ("3f9a01c2", true), ("3F9A01C2", false), ("3f9a01c", false), ("3f9a01c23", false), ("3f9a01g2", false),
            ("", false), ("3f9a01c2\n", false), ("../../etc", false),
        ]
    )
    func typedElevationIDs(text: String, valid: Bool) {
        #expect((ElevationID(typed: text) != nil) == valid)
    }

    @Test("an id is written in JSON as its plain string, so records keep their shape")
    func codableAsString() throws {
        let connection = AuditEvent.Connection(id: "a1b2c3d4e5f6", remoteAddress: "192.0.2.1", remotePort: 22)
        let json = String(decoding: try JSONEncoder().encode(connection), as: UTF8.self)
        #expect(json.contains(#""id":"a1b2c3d4e5f6""#), "\(json)")
        #expect(try JSONDecoder().decode(AuditEvent.Connection.self, from: Data(json.utf8)) == connection)
    }
}
