@testable import BastionCore
import BastionCrypto
import Foundation
import Testing

/// Recordings sealed at rest, end to end through the recorder, crash recovery and the readers:
/// what a stolen recordings directory yields, and what a crash or an attacker's edit does.
@Suite struct SealedSessionRecordingTests {
    let keys = RecordingKeys(keyring: MasterKeyring(current: SoftwareMasterKey(key: .random(), version: 1)))

    func text(_ path: String) throws -> String {
        String(decoding: try keys.plaintext(atPath: path), as: UTF8.self)
    }

    @Test func aSealedRecordingHoldsNoPlaintextAndOpensToTheSameAsciicast() throws {
        let store = try RecordingTempDirectory()
        let clock = RecordingTestClock()
        let recorder = try SessionRecorder(
            directory: store.path, metadata: RecordingTools.metadata("sealed-1", startedAt: clock.now()), clock: clock, keys: keys
        )
        clock.advance(by: 0.5)
        #expect(recorder.offerOutput(Array("secret-output-ZX81\r\n".utf8)))
        #expect(recorder.offerOutput(Array("päivää ☃\r\n".utf8)))
        let summary = try recorder.close()

        let file = Array(try Data(contentsOf: URL(fileURLWithPath: summary.path)))
        #expect(SealedRecording.isSealed(prefix: Array(file.prefix(8))))
        #expect(!String(decoding: file, as: UTF8.self).contains("secret-output"))
        #expect(!String(decoding: file, as: UTF8.self).contains("sealed-1\""), "the header line is sealed too")
        #expect(summary.sha256 == (try RecordingTools.sha256sum(summary.path)))
        let plain = try keys.plaintext(atPath: summary.path)
        #expect(summary.plaintextSHA256 == Hex.string(SHA256.hash(plain)))
        let text = String(decoding: plain, as: UTF8.self)
        #expect(text.hasPrefix("{\"version\": 2"))
        #expect(text.contains("secret-output-ZX81") && text.contains("päivää ☃"))

        // Another installation's master key opens nothing.
        let stranger = RecordingKeys(keyring: MasterKeyring(current: SoftwareMasterKey(key: .random(), version: 1)))
        #expect(throws: RecordingError.self) { try stranger.plaintext(atPath: summary.path) }
        #expect(throws: RecordingError.self) { try Optional<RecordingKeys>.none.plaintext(atPath: summary.path) }
    }

    @Test func recordingsAreChunkedAtLinesWithinTheStreamingLimit() throws {
        let store = try RecordingTempDirectory()
        let clock = RecordingTestClock()
        let recorder = try SessionRecorder(
            directory: store.path, metadata: RecordingTools.metadata("sealed-2", startedAt: clock.now()), clock: clock, keys: keys
        )
        for index in 0..<3_000 { while !recorder.offerOutput(Array("line \(index) of a long session\r\n".utf8)) { usleep(1_000) } }
        let summary = try recorder.close()
        let reader = SealedRecordingReader(dataKey: try keys.dataKey(
            for: try #require(try SealedRecordingHeader.parse(Array(try Data(contentsOf: URL(fileURLWithPath: summary.path))))), path: summary.path
        ))
        reader.append(Array(try Data(contentsOf: URL(fileURLWithPath: summary.path))))
        var chunks: [SealedRecordingChunk] = []
        while let chunk = try reader.next() { chunks.append(chunk) }
        #expect(reader.isComplete)
        #expect(chunks.count > 3)
        #expect(chunks.allSatisfy { $0.plaintext.count <= RecordingSealer.chunkBytes })
        #expect(chunks.dropLast().allSatisfy { $0.plaintext.last == UInt8(ascii: "\n") }, "every chunk ends a line")
        // Search indexing reads a prefix, chunk by chunk, not the whole file.
        let full = try keys.plaintext(atPath: summary.path)
        let prefix = try keys.plaintextPrefix(atPath: summary.path, count: 1_000)
        #expect(prefix.count >= 1_000 && prefix.count < full.count / 2)
        #expect(Array(full.prefix(prefix.count)) == prefix)
    }

    @Test func theWordAtATimeNewlineSearchFindsWhatAByteLoopFinds() {
        var generator = SystemRandomNumberGenerator()
        for length in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 200] {
            for _ in 0..<50 {
                // Newlines one byte in twenty, among bytes one bit away from one (0x0B, 0x08, 0x8A).
                let decoys: [UInt8] = [0x0B, 0x08, 0x8A, 0x00, 0xFF, 0x41]
                let bytes = (0..<length).map { _ in
                    Int.random(in: 0..<20, using: &generator) == 0 ? UInt8(ascii: "\n") : decoys.randomElement(using: &generator)!
                }
                let start = length == 0 ? 0 : Int.random(in: 0...length, using: &generator)
                let end = Int.random(in: start...length, using: &generator)
                #expect(RecordingSealer.lastNewline(in: bytes, from: start, to: end) == bytes[start..<end].lastIndex(of: UInt8(ascii: "\n")), "\(bytes) \(start)..<\(end)")
            }
        }
    }

    @Test func chunksCutAtTheWritersLineEndsAsWhereASearchWouldCut() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<30 {
            // Lines from empty to past two chunks, with multi-byte characters, as the writer makes them.
            var plaintext: [UInt8] = []
            var lineEnds: [Int] = []
            for _ in 0..<Int.random(in: 1...40, using: &generator) {
                let length = [0, 10, 1_000, 40_000, 70_000][Int.random(in: 0..<5, using: &generator)] + Int.random(in: 0..<100, using: &generator)
                plaintext += (0..<length).map { _ in Int.random(in: 0..<8, using: &generator) == 0 ? 0xC3 : UInt8(ascii: "x") }
                    .flatMap { $0 == 0xC3 ? [0xC3, 0xA9] : [$0] }
                plaintext.append(UInt8(ascii: "\n"))
                lineEnds.append(plaintext.count)
            }
            if Bool.random(using: &generator) { plaintext += Array("unfinished".utf8) }
            let searched = RecordingSealer.chunkEnds(plaintext, lineEnds: nil)
            #expect(RecordingSealer.chunkEnds(plaintext, lineEnds: lineEnds) == searched)
            #expect(searched.last == plaintext.count && zip([0] + searched, searched).allSatisfy { $1 > $0 && $1 - $0 <= RecordingSealer.chunkBytes })
        }
    }

    @Test func aCrashedSealedRecordingIsClosedWithTheMarkerAndAuthenticatesToTheEnd() throws {
        let store = try RecordingTempDirectory()
        let clock = RecordingTestClock()
        let recorder = try SessionRecorder(
            directory: store.path, metadata: RecordingTools.metadata("crashed-sealed", startedAt: clock.now()), clock: clock, keys: keys
        )
        clock.advance(by: 1.5)
        #expect(recorder.offerOutput(Array("before the crash\r\n".utf8)))
        #expect(RecordingTools.waitUntil(2) { (try? text(recorder.path))?.contains("before the crash") == true })
        recorder.stopWriterAsIfCrashed()
        // The process died in the middle of writing a chunk.
        let handle = try #require(FileHandle(forWritingAtPath: recorder.path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0, 0, 0, 40, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3]))
        try handle.close()

        // Without the master key recovery cannot close it, and says so.
        var failed: [RecoveredRecording] = []
        for _ in 0..<250 where failed.isEmpty {
            failed = RecordingRecovery.recoverUnfinished(in: store.path)
            if failed.isEmpty { usleep(20_000) }
        }
        #expect(failed.first?.error != nil, "a sealed recording is never 'recovered' without its key")
        #expect(FileManager.default.fileExists(atPath: recorder.markerPath))

        let reports = RecordingRecovery.recoverUnfinished(in: store.path, keys: keys)
        let report = try #require(reports.first)
        #expect(report.error == nil, "\(String(describing: report.error))")
        #expect(report.sha256 == (try RecordingTools.sha256sum(recorder.path)))
        let opened = try SealedRecording.open(
            Array(try Data(contentsOf: URL(fileURLWithPath: recorder.path))),
            dataKey: try keys.dataKey(for: try #require(try SealedRecordingHeader.parse(Array(try Data(contentsOf: URL(fileURLWithPath: recorder.path))))), path: recorder.path)
        )
        #expect(opened.status == .complete)
        let lines = try text(recorder.path).split(separator: "\n")
        #expect(lines.last == #"[1.500000, "m", "interrupted"]"#)
        #expect(lines.contains { $0.contains("before the crash") })
    }

    @Test func recoveryKeepsWholeLinesWhenALineOutgrewAChunk() throws {
        // One output line longer than a chunk spans two; the crash kept only the first of them.
        let sealer = RecordingSealer(try keys.newRecording())
        let lines = try sealer.seal(Array("{\"version\": 2}\n[0.100000, \"o\", \"short\"]\n".utf8))
        let long = Array("[0.200000, \"o\", \"".utf8) + Array(repeating: UInt8(ascii: "x"), count: 40_000) + Array("\"]\n".utf8)
        let body = try sealer.seal(long)
        let firstOfLong = SealedRecording.chunkHeaderByteCount + RecordingSealer.chunkBytes + AESGCM.tagByteCount
        #expect(body.count > firstOfLong)
        let store = try RecordingTempDirectory()
        let path = store.path + "/cut.cast"
        try Data(sealer.header.encoded + lines + Array(body.prefix(firstOfLong))).write(to: URL(fileURLWithPath: path))
        _ = FileManager.default.createFile(atPath: path + ".open", contents: nil)

        let report = try #require(RecordingRecovery.recoverUnfinished(in: store.path, keys: keys).first)
        #expect(report.error == nil, "\(String(describing: report.error))")
        let recovered = try text(path).split(separator: "\n").map(String.init)
        #expect(recovered == ["{\"version\": 2}", "[0.100000, \"o\", \"short\"]", #"[0.100000, "m", "interrupted"]"#])
    }
}
