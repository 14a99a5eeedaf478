import BastionApp
import BastionCore
import BastionTesting
import Foundation
import Testing

/// Recordings past `retention.recordings` are deleted one by one, each with an audit record
/// written first; held users' and sessions' recordings stay.
@Suite("Recording retention")
struct RecordingRetentionTests {
    static func write(_ directory: TemporaryDirectory, day: String, session: String, user: String) throws -> String {
        let folder = directory.file("recordings/\(day)")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = "\(folder)/\(session).cast"
        let header = #"{"version": 2, "width": 80, "height": 24, "timestamp": 1546300800, "bastion": {"session_id": "\#(session)", "user": "\#(user)", "login": "root", "target": "web01", "source": "127.0.0.1"}}"#
        try (header + "\n[0.1, \"o\", \"hello\"]\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("only expired, unheld recordings go, each audited with its SHA-256 before deletion")
    func purge() throws {
        let directory = try TemporaryDirectory()
        let old = try Self.write(directory, day: "2019/01/01", session: "s-old", user: "alice")
        let heldByUser = try Self.write(directory, day: "2019/01/01", session: "s-bob", user: "bob")
        let heldBySession = try Self.write(directory, day: "2019/01/02", session: "s-case", user: "alice")
        // The last day that ends by the cutoff goes; the next day stays.
        let lastDay = try Self.write(directory, day: "2019/12/31", session: "s-last", user: "alice")
        let young = try Self.write(directory, day: "2020/01/01", session: "s-young", user: "alice")
        let stray = directory.file("recordings/README.md")
        try "not a recording".write(toFile: stray, atomically: true, encoding: .utf8)
        let audit = RecordingAuditEmitter()
        let cutoff = try Date("2020-01-01T00:00:00Z", strategy: .iso8601)
        let outcome = try RecordingRetention(directory: directory.file("recordings"), audit: audit).purge(
            before: cutoff, heldUsers: ["bob"], heldSessions: ["s-case"], actor: .init(user: nil, method: "daemon"), now: Date()
        )
        #expect(outcome.deleted == [old, lastDay])
        #expect(Set(outcome.held) == [heldByUser, heldBySession])
        for kept in [heldByUser, heldBySession, young, stray] { #expect(FileManager.default.fileExists(atPath: kept), "\(kept)") }
        #expect(!FileManager.default.fileExists(atPath: old))
        #expect(!FileManager.default.fileExists(atPath: directory.file("recordings/2019/12")), "emptied day folders go too")
        let event = try #require(audit.recorded.first)
        #expect(audit.recorded.count == 2)
        #expect(event.type == .recordingPurge)
        #expect(event.session?.id == "s-old")
        #expect(event.details["recording_sha256"]?.count == 64)
        #expect(event.details["user"] == "alice")
    }

    @Test("no audit record, no deletion")
    func failClosed() throws {
        let directory = try TemporaryDirectory()
        let old = try Self.write(directory, day: "2019/01/01", session: "s-old", user: "alice")
        let audit = RecordingAuditEmitter()
        audit.setFailing(true)
        #expect(throws: StoreError.self) {
            try RecordingRetention(directory: directory.file("recordings"), audit: audit).purge(
                before: Date(), heldUsers: [], heldSessions: [], actor: .init(user: nil), now: Date()
            )
        }
        #expect(FileManager.default.fileExists(atPath: old))
    }
}
