@testable import BastionCore
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `SessionRecorder` against the real file system, judged by `asciinema cat` and `sha256sum`.
@Suite struct RecordingRecorderTests {
    @Test func recordingPassesAsciinemaAndReproducesTheOutput() throws {
        let store = try RecordingTempDirectory()
        let clock = RecordingTestClock()
        let recorder = try SessionRecorder(directory: store.path, metadata: RecordingTools.metadata(startedAt: clock.now()), clock: clock)
        clock.advance(by: 0.25)
        #expect(recorder.offerOutput(Array("$ ls\r\n".utf8)))
        clock.advance(by: 0.5)
        #expect(recorder.offerInput(Array("whoami\r".utf8)))
        #expect(recorder.offerOutput(Array("root \"quoted\" back\\slash\r\n".utf8)))
        clock.advance(by: 1)
        #expect(recorder.offerResize(columns: 100, rows: 30))
        #expect(recorder.offerMarker("elevated: sudo granted"))
        #expect(recorder.offerOutput(Array("\u{1B}[1mbold\u{1B}[0m héllo\r\n".utf8)))
        clock.advance(by: 2)
        let summary = try recorder.close()

        #expect(summary.path == recorder.path)
        #expect(summary.events == 6)
        #expect(summary.duration == 3.75)
        #expect(summary.size == (try FileManager.default.attributesOfItem(atPath: recorder.path)[.size] as? Int))
        #expect(summary.sha256 == (try RecordingTools.sha256sum(recorder.path)))

        let cat = try RecordingTools.asciinemaCat(recorder.path)
        #expect(cat.status == 0, "\(cat.output)")
        #expect(RecordingTools.text(cat.output) == RecordingTools.text("$ ls\r\nroot \"quoted\" back\\slash\r\n\u{1B}[1mbold\u{1B}[0m héllo\r\n"))

        let events = try RecordingTools.events(recorder.path)
        #expect(events.map(\.code) == ["o", "i", "o", "r", "m", "o"])
        #expect(events.map(\.time) == [0.25, 0.75, 0.75, 1.75, 1.75, 1.75])
        #expect(events[1].data == "whoami\r")
        #expect(events[3].data == "100x30")
        #expect(events[4].data == "elevated: sudo granted")
        let header = try RecordingTools.header(recorder.path)
        #expect(header["version"] as? Int == 2)
        #expect(header["timestamp"] as? Int == 1_800_000_000)
        #expect((header["bastion"] as? [String: String])?["target"] == "db-1")
    }

    @Test func layoutIsDatedAndPrivate() throws {
        let store = try RecordingTempDirectory()
        let clock = RecordingTestClock(Date(timeIntervalSince1970: 1_800_057_599))  // 2027-01-15T23:59:59Z
        let recorder = try SessionRecorder(directory: store.path + "/recordings", metadata: RecordingTools.metadata("sess-42", startedAt: clock.now()), clock: clock)
        #expect(recorder.path == store.path + "/recordings/2027/01/15/sess-42.cast")
        #expect(RecordingTools.mode(recorder.path) == 0o600)
        #expect(RecordingTools.mode(recorder.markerPath) == 0o600)
        for folder in ["/recordings", "/recordings/2027", "/recordings/2027/01", "/recordings/2027/01/15"] {
            #expect(RecordingTools.mode(store.path + folder) == 0o700, "\(folder)")
        }
        #expect(FileManager.default.fileExists(atPath: recorder.markerPath))
        _ = try recorder.close()
        #expect(!FileManager.default.fileExists(atPath: recorder.markerPath))
        #expect(RecordingTools.mode(recorder.path) == 0o600)

        // The same session ID twice is refused rather than overwritten.
        #expect(throws: RecordingError(.cannotCreate, "")) {
            try SessionRecorder(directory: store.path + "/recordings", metadata: RecordingTools.metadata("sess-42", startedAt: clock.now()), clock: clock)
        }
    }

    @Test func splitAndInvalidUTF8StillMakeAValidFile() throws {
        let store = try RecordingTempDirectory()
        let clock = RecordingTestClock()
        let recorder = try SessionRecorder(directory: store.path, metadata: RecordingTools.metadata(startedAt: clock.now()), clock: clock)
        #expect(recorder.offerOutput([0x70, 0x72, 0x69, 0x63, 0x65, 0x3A, 0x20, 0xE2]))  // "price: " + first byte of €
        #expect(recorder.offerOutput([0x82, 0xAC, 0x35, 0x0D, 0x0A]))  // rest of € + "5\r\n"
        #expect(recorder.offerOutput([0x62, 0x61, 0x64, 0x3A, 0xFF, 0xC3, 0x28, 0x0D, 0x0A]))  // "bad:" FF, broken é, "("
        #expect(recorder.offerOutput([0x74, 0x61, 0x69, 0x6C, 0xF0, 0x9F]))  // a 4-byte prefix never completed
        _ = try recorder.close()

        let cat = try RecordingTools.asciinemaCat(recorder.path)
        #expect(cat.status == 0, "\(cat.output)")
        #expect(RecordingTools.text(cat.output) == "price: €5\nbad:\u{FFFD}\u{FFFD}(\ntail\u{FFFD}")
        let data = try RecordingTools.events(recorder.path).map(\.data)
        #expect(data == ["price: ", "€5\r\n", "bad:\u{FFFD}\u{FFFD}(\r\n", "tail", "\u{FFFD}"])
    }

    @Test func fullQueueRefusesAndLosesNothing() throws {
        let store = try RecordingTempDirectory()
        let clock = RecordingTestClock()
        let recorder = try SessionRecorder(directory: store.path, metadata: RecordingTools.metadata(startedAt: clock.now()), queueCapacity: 2, clock: clock)
        var accepted: [String] = []
        var refusals = 0
        var next = 0
        // Offer as fast as possible until refused, then back off like the relay and go on.
        while accepted.count < 3_000 {
            let line = "line \(next)\n"
            if recorder.offerOutput(Array(line.utf8)) {
                accepted.append(line)
                next += 1
            } else {
                refusals += 1
                #expect(recorder.failure == nil)
                usleep(200)
            }
        }
        let summary = try recorder.close()
        #expect(refusals > 0)
        #expect(summary.events == accepted.count)
        #expect(try RecordingTools.events(recorder.path).map(\.data) == accepted)
        #expect(try RecordingTools.asciinemaCat(recorder.path).status == 0)
    }

    @Test func linesReachTheFileWithinASecondWhileOpen() throws {
        let store = try RecordingTempDirectory()
        let clock = RecordingTestClock()
        let recorder = try SessionRecorder(directory: store.path, metadata: RecordingTools.metadata(startedAt: clock.now()), clock: clock)
        let started = Date()
        #expect(recorder.offerOutput(Array("visible soon\r\n".utf8)))
        let seen = RecordingTools.waitUntil(2) { RecordingTools.contents(recorder.path).contains("visible soon") }
        let elapsed = Date().timeIntervalSince(started)
        #expect(seen)
        #expect(elapsed < 1.1, "took \(elapsed) s")
        // A reader of the still-open file sees whole lines only.
        #expect(try RecordingTools.asciinemaCat(recorder.path).status == 0)
        _ = try recorder.close()
    }

    @Test func closeTwiceAndOfferAfterClose() throws {
        let store = try RecordingTempDirectory()
        let clock = RecordingTestClock()
        let recorder = try SessionRecorder(directory: store.path, metadata: RecordingTools.metadata(startedAt: clock.now()), clock: clock)
        let summary = try recorder.close()
        #expect(summary.events == 0)
        #expect(!recorder.offerOutput([0x41]))
        #expect(recorder.failure == nil)
        #expect(throws: RecordingError(.closed, "")) { try recorder.close() }
        #expect(try RecordingTools.asciinemaCat(recorder.path).status == 0)
    }

    @Test func droppedRecorderStillClosesTheFile() throws {
        let store = try RecordingTempDirectory()
        let clock = RecordingTestClock()
        var recorder: SessionRecorder? = try SessionRecorder(directory: store.path, metadata: RecordingTools.metadata(startedAt: clock.now()), clock: clock)
        let path = recorder!.path
        let marker = recorder!.markerPath
        #expect(recorder!.offerOutput(Array("bye\r\n".utf8)))
        recorder = nil
        #expect(RecordingTools.waitUntil(2) { !FileManager.default.fileExists(atPath: marker) })
        #expect(RecordingTools.contents(path).hasSuffix(#"[0.000000, "o", "bye\r\n"]"# + "\n"))
    }

    @Test func directoryUnderARegularFileCannotBeCreated() throws {
        let store = try RecordingTempDirectory()
        let blocker = store.path + "/not-a-directory"
        try Data("x".utf8).write(to: URL(fileURLWithPath: blocker))
        let clock = RecordingTestClock()
        let error = #expect(throws: RecordingError.self) {
            try SessionRecorder(directory: blocker + "/recordings", metadata: RecordingTools.metadata(startedAt: clock.now()), clock: clock)
        }
        #expect(error?.code == .cannotCreate)
        #expect(error?.description.contains("not-a-directory: exists and is not a directory") == true)
    }

    @Test func unsafeSessionIDIsRefused() throws {
        let store = try RecordingTempDirectory()
        let clock = RecordingTestClock()
        #expect(throws: RecordingError(.invalidSessionID, "")) {
            try SessionRecorder(directory: store.path, metadata: RecordingTools.metadata("../../etc/passwd", startedAt: clock.now()), clock: clock)
        }
    }

    /// ENOSPC for real: a 256 KiB tmpfs (needs root, which the CI and this machine have).
    @Test(.enabled(if: geteuid() == 0)) func fullDiskFailsLoudlyAndKeepsWholeLines() throws {
        let store = try RecordingTempDirectory()
        let mountPoint = store.path + "/small"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        let mounted = try RecordingTools.run("/bin/mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mountPoint])
        if mounted.status != 0 {
            // A container without CAP_SYS_ADMIN: nothing to judge here, say so rather than pass.
            try Test.cancel("cannot mount a tmpfs here: \(mounted.output)")
        }
        defer { _ = try? RecordingTools.run("/bin/umount", [mountPoint]) }

        let clock = RecordingTestClock()
        let recorder = try SessionRecorder(directory: mountPoint, metadata: RecordingTools.metadata(startedAt: clock.now()), clock: clock)
        let chunk = Array(String(repeating: "0123456789abcdef", count: 512).utf8)  // 8 KiB
        var offered = 0
        let failed = RecordingTools.waitUntil(5) {
            if recorder.failure != nil { return true }
            if offered < 200, recorder.offerOutput(chunk) { offered += 1 }
            return false
        }
        #expect(failed)
        #expect(recorder.failure?.code == .writeFailed)
        #expect(recorder.failure?.description.contains("No space left") == true)
        #expect(!recorder.offerOutput([0x41]))
        #expect(throws: RecordingError(.writeFailed, "")) { try recorder.close() }
        #expect(FileManager.default.fileExists(atPath: recorder.markerPath))
        #expect(try RecordingTools.asciinemaCat(recorder.path).status == 0)

        // With the disk still full, the next recording cannot even start.
        _ = try RecordingTools.run("/bin/dd", ["if=/dev/zero", "of=\(mountPoint)/filler", "bs=64k", "count=8"])
        #expect(throws: RecordingError(.cannotCreate, "")) {
            try SessionRecorder(directory: mountPoint, metadata: RecordingTools.metadata(startedAt: clock.now()), clock: clock)
        }
    }
}
