@testable import BastionCore
import BastionCrypto
import Foundation
import Testing

/// A channel without a terminal: its three streams are counted and hashed byte for byte, and
/// binary output becomes a marker in the `.cast` instead of escaped, lossy text.
@Suite struct StreamRecordingTests {
    private func streamMetadata(startedAt: Date) -> RecordingMetadata {
        var metadata = RecordingTools.metadata(startedAt: startedAt)
        metadata.term = nil
        metadata.command = "tar c /etc"
        metadata.streams = true
        return metadata
    }

    @Test func binaryStretchesAreCountedNotEscapedAndStreamsAreHashed() throws {
        let store = try RecordingTempDirectory()
        let clock = RecordingTestClock()
        let recorder = try SessionRecorder(directory: store.path, metadata: streamMetadata(startedAt: clock.now()), clock: clock)
        #expect(recorder.countsStreams)
        var generator = SystemRandomNumberGenerator()
        let binary = (0..<70_000).map { _ in UInt8.random(in: 0...255, using: &generator) } + [0]
        let stdin = Array("upload me\n".utf8)
        clock.advance(by: 0.5)
        #expect(recorder.offer(.uncapturedInput(stdin)))
        #expect(recorder.offerOutput(Array("tar: removing leading /\n".utf8)))
        clock.advance(by: 0.5)
        #expect(recorder.offerOutput(Array(binary[..<40_000])))
        #expect(recorder.offerOutput(Array(binary[40_000...])))
        clock.advance(by: 0.5)
        #expect(recorder.offer(.errorOutput(Array("done héllo\n".utf8))))
        let summary = try recorder.close()

        let events = try RecordingTools.events(recorder.path)
        #expect(events.map(\.code) == ["o", "m", "o"])
        #expect(events[1].data == "binary stdout: \(binary.count) bytes not shown")
        #expect(events[1].time == 1.0)
        #expect(events[2].data == "done héllo\n")
        #expect(!events.contains { $0.data.contains("\u{FFFD}") })
        let stdout = Array("tar: removing leading /\n".utf8) + binary
        #expect(summary.streams["stdout_bytes"] == String(stdout.count))
        #expect(summary.streams["stdout_sha256"] == Hex.string(SHA256.hash(stdout)))
        #expect(summary.streams["stdin_bytes"] == "10")
        #expect(summary.streams["stdin_sha256"] == Hex.string(SHA256.hash(stdin)))
        #expect(summary.streams["stderr_sha256"] == Hex.string(SHA256.hash(Array("done héllo\n".utf8))))
        let cat = try RecordingTools.asciinemaCat(recorder.path)
        #expect(cat.status == 0, "\(cat.output)")
    }

    @Test func aTerminalSessionKeepsEscapingEverything() throws {
        let store = try RecordingTempDirectory()
        let clock = RecordingTestClock()
        let recorder = try SessionRecorder(directory: store.path, metadata: RecordingTools.metadata(startedAt: clock.now()), clock: clock)
        #expect(!recorder.countsStreams)
        #expect(recorder.offerOutput([0x00, 0xFF, 0x41]))
        let summary = try recorder.close()
        #expect(summary.streams.isEmpty)
        let events = try RecordingTools.events(recorder.path)
        #expect(events.map(\.data) == ["\u{0}\u{FFFD}A"])
    }

    @Test func classification() {
        #expect(!StreamContent.isBinary(Array("plain ascii text with \u{1B}[31mcolour\u{1B}[0m\r\n\t".utf8)))
        #expect(!StreamContent.isBinary(Array("héllo wörld ✓ 𝄞".utf8)))
        // A character cut by the chunk's end is not binary: the next chunk completes it.
        #expect(!StreamContent.isBinary(Array("abcdefgh".utf8) + [0xE2, 0x9C]))
        #expect(StreamContent.isBinary(Array("abcdefghijklmnop".utf8) + [0x00]))
        #expect(StreamContent.isBinary([0xC0, 0xAF]))  // overlong '/'
        #expect(StreamContent.isBinary([0xED, 0xA0, 0x80]))  // surrogate
        #expect(StreamContent.isBinary([0x80]))
        #expect(StreamContent.isBinary(Array("\u{1F}\u{8B}".utf8) + [0x08, 0x00]))  // gzip magic
    }

    @Test func captureStreamsKeepsTheBytesExactlyAndDecodesACutShortFile() throws {
        let store = try RecordingTempDirectory()
        let clock = RecordingTestClock()
        let recorder = try SessionRecorder(
            directory: store.path, metadata: streamMetadata(startedAt: clock.now()), clock: clock, captureStreams: true
        )
        let binary: [UInt8] = (0..<50_000).map { UInt8(truncatingIfNeeded: $0 &* 7919) }
        #expect(recorder.offer(.uncapturedInput(Array("in".utf8))))
        #expect(recorder.offerOutput(binary))
        #expect(recorder.offer(.errorOutput(Array("warn\n".utf8))))
        let summary = try recorder.close()
        let path = try #require(summary.streams["streams_file"])
        #expect(path == CapturedStreams.path(castPath: recorder.path))
        #expect(summary.streams["streams_sha256"] == (try RecordingTools.sha256sum(path)))
        let streams = try CapturedStreams.read(castPath: recorder.path, keys: nil)
        #expect(streams == CapturedStreams(stdin: Array("in".utf8), stdout: binary, stderr: Array("warn\n".utf8)))
        // A crash cuts the last record short: what it holds is still there.
        let whole = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let cut = try #require(StreamCaptureFile.decode(Array(whole.dropLast(3))))
        #expect(cut[.stdout] == binary)
        #expect(cut[.stderr] == Array("wa".utf8))
        #expect(StreamCaptureFile.decode(Array("not a capture".utf8)) == nil)
    }
}
