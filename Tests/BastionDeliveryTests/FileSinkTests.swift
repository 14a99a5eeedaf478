import BastionDelivery
import BastionCore
import BastionTesting
import Foundation
import Testing

@Suite("File sink")
struct FileSinkTests {
    static func record(_ seq: Int64) -> SIEMRecord {
        let event = AuditEvent(type: .authLogin, time: Date(timeIntervalSince1970: 1_800_000_000), actor: .init(user: "ünïcødé"))
        return SIEMRecord(seq: seq, eventID: "bastion-t-\(seq)", event: event, canonicalJSON: event.canonicalJSON())
    }

    static func sink(_ directory: TemporaryDirectory, rotateBytes: Int = 1_000_000) -> FileSink {
        FileSink(
            name: "archive", path: directory.file("siem/events.jsonl"), rotateBytes: rotateBytes, keep: 2, accepts: { _ in true },
            format: { #"{"id":"\#($0.eventID)","event":\#(String(decoding: $0.canonicalJSON, as: UTF8.self))}"# }
        )
    }

    @Test("one JSON line per event, appended, 0600, across sink instances (restarts)")
    func appends() throws {
        let directory = try TemporaryDirectory()
        try Self.sink(directory).deliver([Self.record(1), Self.record(2)])
        try Self.sink(directory).deliver([Self.record(3)])
        let text = try String(contentsOfFile: directory.file("siem/events.jsonl"), encoding: .utf8)
        let lines = text.split(separator: "\n")
        #expect(lines.count == 3)
        for line in lines { #expect(try JSONSerialization.jsonObject(with: Data(line.utf8)) is [String: Any]) }
        #expect(lines[2].hasPrefix(#"{"id":"bastion-t-3""#))
        let mode = try FileManager.default.attributesOfItem(atPath: directory.file("siem/events.jsonl"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test("rotates by size, keeping `keep` old files, never splitting a line")
    func rotation() throws {
        let directory = try TemporaryDirectory()
        let lineLength = Array((#"{"id":"bastion-t-1","event":"# + String(decoding: Self.record(1).canonicalJSON, as: UTF8.self) + "}\n").utf8).count
        let sink = Self.sink(directory, rotateBytes: lineLength * 2)
        try sink.deliver((1...7).map { Self.record($0) })
        func lines(_ name: String) throws -> [Substring] {
            try String(contentsOfFile: directory.file("siem/\(name)"), encoding: .utf8).split(separator: "\n")
        }
        #expect(try lines("events.jsonl").count == 1, "7 = 2 + 2 + 2 + 1")
        #expect(try lines("events.jsonl.1").count == 2)
        #expect(try lines("events.jsonl.2").count == 2)
        #expect(!FileManager.default.fileExists(atPath: directory.file("siem/events.jsonl.3")), "keep = 2")
        #expect(try lines("events.jsonl").first?.contains("bastion-t-7") == true)
    }

    @Test("an unwritable destination is a retryable failure with the path and reason")
    func unwritable() throws {
        let sink = FileSink(name: "x", path: "/proc/bastion-no/events.jsonl", rotateBytes: 4_096, keep: 1, accepts: { _ in true }, format: { $0.eventID })
        do {
            try sink.deliver([Self.record(1)])
            Issue.record("delivered to /proc")
        } catch {
            #expect(error.kind == .retryable)
            #expect(error.reason.contains("/proc/bastion-no/events.jsonl"))
        }
    }
}
