import BastionCore
import Foundation
import Testing

/// The searchable text of a recording, as the session index takes it.
@Suite("CastText")
struct CastTextTests {
    static func write(_ lines: [String], trailing: String = "") throws -> String {
        let path = NSTemporaryDirectory() + "cast-text-\(UUID().uuidString).cast"
        try (lines.joined(separator: "\n") + "\n" + trailing).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("output events only, escapes stripped; input, resizes, broken lines and a truncated last line are skipped")
    func outputOnly() throws {
        let path = try Self.write([
            #"{"version": 2, "width": 80, "height": 24}"#,
            #"[0.1, "o", "\u001b[1mhello\u001b[0m "]"#,
            #"[0.2, "i", "secret-typed"]"#,
            #"[0.3, "r", "100x40"]"#,
            "not json",
            #"[0.4, "o", "wörld"]"#,
        ], trailing: #"[0.5, "o", "cut of"#)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try CastText.extract(from: path) == "hello wörld")
    }

    @Test("reading stops once the text passes the limit; a file with no newline at all is only a header")
    func limit() throws {
        let event = #"[0.1, "o", "0123456789"]"#
        let path = try Self.write([#"{"version": 2, "width": 80, "height": 24}"#] + Array(repeating: event, count: 1_000))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = try CastText.extract(from: path, limit: 95)
        #expect(text == String(repeating: "0123456789", count: 10))
        #expect(try CastText.extract(from: path).count == 10_000)

        let headerOnly = NSTemporaryDirectory() + "cast-text-\(UUID().uuidString).cast"
        try #"{"version": 2}"#.write(toFile: headerOnly, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: headerOnly) }
        #expect(try CastText.extract(from: headerOnly) == "")
    }
}
