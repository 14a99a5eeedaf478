@testable import BastionCore
import Foundation
import Testing

/// Unfinished recordings found at start-up are repaired, closed and reported.
@Suite struct RecordingRecoveryTests {
    /// Recovery after an imitated crash. The recording's lock lives on an open file
    /// description; a child that another test spawns at that moment holds a copy until its
    /// exec closes it (O_CLOEXEC), so on a loaded machine the lock can outlive the "crash"
    /// by a little while: try again briefly, as a restarted daemon would find it free.
    static func recoverAfterCrash(in directory: String) -> [RecoveredRecording] {
        for _ in 0..<250 {
            let reports = RecordingRecovery.recoverUnfinished(in: directory)
            if !reports.isEmpty { return reports }
            usleep(20_000)
        }
        return []
    }

    @Test func crashedRecordingIsRepairedAndReported() throws {
        let store = try RecordingTempDirectory()
        let clock = RecordingTestClock()
        let recorder = try SessionRecorder(directory: store.path, metadata: RecordingTools.metadata("crashed-1", startedAt: clock.now()), clock: clock)
        clock.advance(by: 1.5)
        #expect(recorder.offerOutput(Array("before the crash\r\n".utf8)))
        clock.advance(by: 0.25)
        #expect(recorder.offerMarker("last"))
        #expect(RecordingTools.waitUntil(2) { RecordingTools.contents(recorder.path).contains("last") })
        recorder.stopWriterAsIfCrashed()
        // The process died in the middle of a write(2): a partial last line.
        let handle = try #require(FileHandle(forWritingAtPath: recorder.path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"[1.900000, "o", "half a li"#.utf8))
        try handle.close()
        #expect(try RecordingTools.asciinemaCat(recorder.path).status != 0)

        let reports = Self.recoverAfterCrash(in: store.path)
        #expect(reports.count == 1)
        let report = try #require(reports.first)
        #expect(report.error == nil)
        #expect(report.path == recorder.path)
        #expect(report.sessionID == "crashed-1")
        #expect(report.size == (try FileManager.default.attributesOfItem(atPath: recorder.path)[.size] as? Int))
        #expect(report.sha256 == (try RecordingTools.sha256sum(recorder.path)))
        #expect(!FileManager.default.fileExists(atPath: recorder.markerPath))

        let cat = try RecordingTools.asciinemaCat(recorder.path)
        #expect(cat.status == 0, "\(cat.output)")
        #expect(RecordingTools.text(cat.output) == "before the crash\n")
        let events = try RecordingTools.events(recorder.path)
        #expect(events.last?.code == "m")
        #expect(events.last?.data == "interrupted")
        #expect(events.last?.time == 1.75)

        #expect(RecordingRecovery.recoverUnfinished(in: store.path).isEmpty)
    }

    @Test func crashRightAfterTheHeaderRecoversAtTimeZero() throws {
        let store = try RecordingTempDirectory()
        let clock = RecordingTestClock()
        let recorder = try SessionRecorder(directory: store.path, metadata: RecordingTools.metadata(startedAt: clock.now()), clock: clock)
        recorder.stopWriterAsIfCrashed()
        let reports = Self.recoverAfterCrash(in: store.path)
        #expect(reports.map(\.path) == [recorder.path])
        #expect(try RecordingTools.events(recorder.path).map(\.time) == [0])
        #expect(try RecordingTools.asciinemaCat(recorder.path).status == 0)
    }

    @Test func liveRecordingsAreLeftAlone() throws {
        let store = try RecordingTempDirectory()
        let clock = RecordingTestClock()
        let recorder = try SessionRecorder(directory: store.path, metadata: RecordingTools.metadata(startedAt: clock.now()), clock: clock)
        #expect(RecordingRecovery.recoverUnfinished(in: store.path).isEmpty)
        #expect(FileManager.default.fileExists(atPath: recorder.markerPath))
        #expect(recorder.offerOutput(Array("still here\r\n".utf8)))
        let summary = try recorder.close()
        #expect(summary.events == 1)
        #expect(try RecordingTools.asciinemaCat(recorder.path).status == 0)
    }

    @Test func markerWithoutRecordingIsRemovedSilently() throws {
        let store = try RecordingTempDirectory()
        let folder = store.path + "/2027/01/15"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: folder + "/ghost.cast.open", contents: nil))
        #expect(RecordingRecovery.recoverUnfinished(in: store.path).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: folder + "/ghost.cast.open"))
        #expect(RecordingRecovery.recoverUnfinished(in: store.path + "/missing").isEmpty)
    }
}
