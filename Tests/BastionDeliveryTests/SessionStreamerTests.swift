import BastionCore
import BastionCrypto
@testable import BastionDelivery
import BastionStore
import BastionTesting
import Foundation
import Testing

@Suite("Session streamer cuts")
struct SessionStreamerTests {
    @Test("a live recording goes up to its last newline; a long line or a closed file never splits a character")
    func cuts() {
        let lines = Array("[1, \"o\", \"a\"]\n[2, \"o\", \"b".utf8)
        #expect(SessionStreamer.cut(lines, wholeLinesOnly: true) == Array("[1, \"o\", \"a\"]\n".utf8))
        #expect(SessionStreamer.cut(Array("partial".utf8), wholeLinesOnly: true) == nil)
        #expect(SessionStreamer.cut(Array("tail".utf8), wholeLinesOnly: false) == Array("tail".utf8))
        // A full chunk without a newline ending inside "✓" (E2 9C 93): the character waits.
        let full = Array(repeating: UInt8(ascii: "x"), count: SessionStreamer.chunkBytes - 2) + [0xE2, 0x9C]
        #expect(SessionStreamer.cut(full, wholeLinesOnly: true)?.count == SessionStreamer.chunkBytes - 2)
        #expect(SessionStreamer.characterBoundary(Array("ab✓".utf8)) == 5)
        #expect(SessionStreamer.characterBoundary([0x61, 0xF0, 0x9F, 0x94]) == 1)
        #expect(SessionStreamer.characterBoundary([0x61, 0xC3]) == 1)
    }
}

/// A sealed recording streamed while it grows: each sealed chunk goes out decrypted as one
/// `session.data` event, the cursor resumes mid-file, and nothing that fails to authenticate
/// is ever sent.
@Suite("Session streamer over sealed recordings")
struct SealedSessionStreamerTests {
    let keys = RecordingKeys(keyring: MasterKeyring(current: SoftwareMasterKey(key: .random(), version: 1)))

    @Test("pieces reassemble to the asciicast text, resume from the cursor, and stop at a forged chunk")
    func sealedStream() throws {
        let directory = try TemporaryDirectory()
        let handle = try DatabasePoolHandle(path: directory.file("bastion.sqlite"), sealing: .init(key: try Ed25519PrivateKey()), clock: ManualClock())
        let clock = ManualClock()
        let recorder = try SessionRecorder(
            directory: directory.file("recordings"),
            metadata: RecordingMetadata(
                sessionID: "s1", user: "alice", login: "root", target: "web01", sourceAddress: "127.0.0.1", width: 80, height: 24,
                term: nil, command: nil, title: "t", startedAt: clock.now()
            ),
            clock: clock, keys: keys
        )
        for index in 0..<2_000 { while !recorder.offerOutput(Array("line \(index) ✓\r\n".utf8)) { usleep(1_000) } }
        let summary = try recorder.close()
        let streamer = SessionStreamer(sink: "soc", outbox: handle.siemOutbox, installation: "test", keys: keys)
        try handle.siemOutbox.openStream("soc", sessionID: "s1", path: summary.path)

        var pieces: [[String: String]] = []
        while true {
            let chunks = try streamer.pending(limit: 3, now: Date())
            guard let last = chunks.last else { break }
            pieces += chunks.map { $0.record.event.details }
            try handle.siemOutbox.advanceStream("soc", sessionID: "s1", deliveredBytes: last.deliveredBytes, nextChunk: last.nextChunk)
        }
        #expect(pieces.count > 3, "several steps of three")
        #expect(pieces.map { Int($0["chunk"] ?? "") } == Array(1...pieces.count).map { Optional($0) })
        #expect(pieces.allSatisfy { (Int($0["bytes"] ?? "") ?? .max) <= SessionStreamer.chunkBytes })
        let reassembled = pieces.map { $0["data"] ?? "" }.joined()
        #expect(Array(reassembled.utf8) == (try keys.plaintext(atPath: summary.path)))
        var offset = 0
        for piece in pieces {
            #expect(piece["offset"] == String(offset))
            offset += Int(piece["bytes"] ?? "") ?? 0
        }

        // An attacker flips a byte in the third chunk of the file: the stream sends the two
        // before it and stops; the forged chunk is never sent.
        try handle.siemOutbox.closeStream("soc", sessionID: "s1")
        try handle.siemOutbox.openStream("soc", sessionID: "s1b", path: summary.path)
        var file = Array(try Data(contentsOf: URL(fileURLWithPath: summary.path)))
        let third = try #require(pieceEnd(of: 2, in: file))
        file[third + 20] ^= 0x01
        try Data(file).write(to: URL(fileURLWithPath: summary.path))
        let sent = try SessionStreamer(sink: "soc", outbox: handle.siemOutbox, installation: "test", keys: keys).pendingOrError(limit: 10)
        #expect(sent.chunks == 2)
        #expect(sent.failed)
    }

    /// The file offset where sealed chunk `index` starts.
    func pieceEnd(of index: Int, in file: [UInt8]) -> Int? {
        guard let header = try? SealedRecordingHeader.parse(file) else { return nil }
        var offset = header.byteCount
        for _ in 0..<index {
            guard offset + 4 <= file.count else { return nil }
            let length = file[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
            offset += 12 + length
        }
        return offset
    }
}

extension SessionStreamer {
    /// How many chunks came out before an error stopped the stream.
    fileprivate func pendingOrError(limit: Int) throws -> (chunks: Int, failed: Bool) {
        var count = 0
        while true {
            do {
                let chunks = try pending(limit: 1, now: Date())
                guard let last = chunks.last else { return (count, false) }
                count += 1
                try outbox.advanceStream(sink, sessionID: last.sessionID, deliveredBytes: last.deliveredBytes, nextChunk: last.nextChunk)
            } catch {
                return (count, true)
            }
        }
    }
}
