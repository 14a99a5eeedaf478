import BastionCrypto
import Foundation
import BastionCore
import Testing

@Suite("Sealed recording from a file descriptor")
struct SealedRecordingFileTests {
    /// A SIEM follower reading a file while the recorder appends to it: chunks appear as
    /// they become whole, the reader waits at a partial chunk, and ends complete.
    @Test func followsAGrowingFile() throws {
        let fixture = try SealedFixture.threeChunks()
        let path = NSTemporaryDirectory() + "sealed-\(UUID().uuidString).cast"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let cut = fixture.chunkEnds[1] + 5  // mid third chunk
        try Data(fixture.file.prefix(cut)).write(to: URL(fileURLWithPath: path))

        let fd = open(path, O_RDONLY | O_CLOEXEC)
        try #require(fd >= 0)
        defer { close(fd) }
        let reader = SealedRecordingReader(dataKey: SealedFixture.key)
        var chunks: [SealedRecordingChunk] = []
        func drain() throws {
            while try reader.readAvailable(from: fd, maximumByteCount: 7) > 0 {
                while let chunk = try reader.next() { chunks.append(chunk) }
            }
        }
        try drain()
        #expect(chunks.map(\.plaintext) == Array(fixture.plaintexts.prefix(2)))
        #expect(!reader.isComplete)
        #expect(reader.pendingByteCount == 5)

        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(fixture.file[cut...]))
        try handle.close()
        try drain()
        #expect(chunks.map(\.plaintext) == fixture.plaintexts)
        #expect(reader.isComplete)
        #expect(reader.verifiedByteCount == fixture.file.count)
    }

    @Test func readErrorIsReported() {
        let reader = SealedRecordingReader(dataKey: SealedFixture.key)
        #expect(throws: SealedRecordingError(.readFailed, "")) { try reader.readAvailable(from: -1) }
    }
}

@Suite("Sealed recording throughput")
struct SealedRecordingThroughputTests {
    /// Printed, not asserted: 256 MiB in 32 KiB chunks, the recorder's hot path. Seal
    /// includes the running plaintext SHA-256 and drops each output as a recorder does after
    /// write(2); open decrypts the whole file into one array (so it pays first-touch page
    /// faults on 256 MiB), the streaming reader one chunk array at a time.
    @Test func sealAndOpenThroughput() throws {
        let chunk = (0 ..< (32 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 13) }
        let count = (256 << 20) / chunk.count
        let key = SymmetricKey.random()
        let clock = ContinuousClock()
        let writer = try SealedRecordingWriter(dataKey: key, wrappedKey: [1], masterKeyVersion: 1)
        var sealed = 0
        let sealTime = try clock.measure {
            for _ in 0 ..< count { sealed += try writer.seal(chunk).count }
            sealed += try writer.finish().count
        }
        #expect(sealed == count * (chunk.count + 28) + 28)

        let fileWriter = try SealedRecordingWriter(dataKey: key, wrappedKey: [1], masterKeyVersion: 1)
        var file = fileWriter.header.encoded
        file.reserveCapacity(sealed + file.count)
        for _ in 0 ..< count { file += try fileWriter.seal(chunk) }
        file += try fileWriter.finish()
        var contents: SealedRecordingContents?
        let openTime = try clock.measure { contents = try SealedRecording.open(file, dataKey: key) }
        #expect(contents?.status == .complete)
        #expect(contents?.plaintext.count == count * chunk.count)

        let reader = SealedRecordingReader(dataKey: key)
        reader.append(file)
        var streamed = 0
        let streamTime = try clock.measure {
            while let next = try reader.next() { streamed += next.plaintext.count }
        }
        #expect(streamed == count * chunk.count)

        let cipher = try AESGCMCipher(key: key)
        let nonce = [UInt8](repeating: 0, count: 12)
        let rawTime = try clock.measure {
            for _ in 0 ..< count { _ = try cipher.seal(chunk, nonce: nonce, authenticating: nonce) }
        }
        let megabytes = Double(count * chunk.count) / 1_000_000
        func rate(_ duration: Duration) -> Int {
            let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
            return Int(megabytes / seconds)
        }
        print("sealed recording: seal \(rate(sealTime)) MB/s, open \(rate(openTime)) MB/s")
        print("sealed recording: streaming next() \(rate(streamTime)) MB/s, bare AESGCMCipher.seal \(rate(rawTime)) MB/s")
    }
}
