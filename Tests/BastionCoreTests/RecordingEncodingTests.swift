@testable import BastionCore
import Foundation
import BastionTesting
import Testing

/// The pure parts of recording: asciicast lines, UTF-8 chunking, the bounded queue.
@Suite struct RecordingEncodingTests {
    @Test func eventLineHasSixDecimalsAndEscapes() {
        #expect(AsciicastLine.event(time: 1.2345674, code: .output, data: "ls\r\n") == #"[1.234567, "o", "ls\r\n"]"#)
        #expect(AsciicastLine.event(time: 0, code: .input, data: "") == #"[0.000000, "i", ""]"#)
        #expect(AsciicastLine.event(time: 62.5, code: .resize, data: "80x24") == #"[62.500000, "r", "80x24"]"#)
        #expect(AsciicastLine.event(time: -3, code: .marker, data: "x") == #"[0.000000, "m", "x"]"#)
    }

    @Test(arguments: [
        "plain", "quote \" backslash \\ slash /", "\u{1B}[31mred\u{1B}[0m", "nul \u{0} bell \u{7} del \u{7F} c1 \u{85}",
        "tab\tnl\ncr\rbs\u{8}ff\u{C}", "héllo € 😀 \u{2028}", "\u{FFFD}",
    ])
    func stringEscapingRoundTripsThroughJSON(_ text: String) throws {
        let literal = AsciicastLine.string(text)
        #expect(!literal.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F })
        let decoded = try JSONSerialization.jsonObject(with: Data("[\(literal)]".utf8)) as? [String]
        #expect(decoded == [text])
    }

    @Test func controlCharactersUseShortOrUnicodeEscapes() {
        #expect(AsciicastLine.string("\u{1B}\u{0}\n\"\\") == #""\u001b\u0000\n\"\\""#)
        #expect(AsciicastLine.string("\u{7F}\u{85}\u{9F}\u{A0}é") == #""\u007f\u0085\u009f"# + "\u{A0}é\"")
    }

    @Test func headerCarriesVersionTerminalAndBastionObject() throws {
        var metadata = RecordingTools.metadata("abc-1", startedAt: Date(timeIntervalSince1970: 1_800_000_000.75))
        metadata.command = "uptime"
        metadata.shell = nil
        let line = AsciicastLine.header(metadata)
        #expect(line.hasPrefix(#"{"version": 2, "width": 120, "height": 40, "timestamp": 1800000000, "env": {"TERM": "xterm-256color"}"#))
        let header = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(header["command"] as? String == "uptime")
        #expect(header["title"] as? String == "alice@db-1")
        #expect((header["env"] as? [String: String]) == ["TERM": "xterm-256color"])
        let bastion = try #require(header["bastion"] as? [String: String])
        #expect(bastion == ["session_id": "abc-1", "user": "alice", "login": "root", "target": "db-1", "source": "192.0.2.7"])

        metadata.term = nil
        metadata.command = nil
        metadata.title = nil
        let bare = try #require(try JSONSerialization.jsonObject(with: Data(AsciicastLine.header(metadata).utf8)) as? [String: Any])
        #expect(bare["env"] == nil && bare["command"] == nil && bare["title"] == nil)
    }

    @Test(arguments: 1...2)
    func threeByteCharacterSplitOverTwoChunks(at split: Int) {
        let euro: [UInt8] = [0xE2, 0x82, 0xAC]
        var chunker = UTF8Chunker()
        let first = chunker.decode([UInt8]("a".utf8) + euro[..<split])
        #expect(first == "a")
        #expect(chunker.pending.count == split)
        #expect(chunker.decode(Array(euro[split...]) + [UInt8]("b".utf8)) == "€b")
        #expect(chunker.pending.isEmpty)
    }

    @Test func fourByteCharacterOneByteAtATime() {
        var chunker = UTF8Chunker()
        let text = [UInt8]("😀".utf8).map { chunker.decode([$0]) }.joined()
        #expect(text == "😀")
        #expect(chunker.finish() == "")
    }

    @Test func invalidBytesBecomeReplacementCharacters() {
        var chunker = UTF8Chunker()
        // A stray continuation, an overlong NUL, a surrogate and 0xFF: never valid.
        #expect(chunker.decode([0x41, 0x80, 0x42, 0xC0, 0x80, 0x43, 0xED, 0xA0, 0x80, 0xFF]) == "A\u{FFFD}B\u{FFFD}\u{FFFD}C\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}")
        // An impossible prefix at the end is replaced now, not held back.
        #expect(chunker.decode([0x44, 0xE0, 0x80]) == "D\u{FFFD}\u{FFFD}")
        #expect(chunker.pending.isEmpty)
        // A held prefix that the next chunk does not complete.
        #expect(chunker.decode([0xE2, 0x82]) == "")
        #expect(chunker.decode([0x45]) == "\u{FFFD}E")
        // A prefix still pending at the end of the stream.
        #expect(chunker.decode([0xF0, 0x9F]) == "")
        #expect(chunker.finish() == "\u{FFFD}")
    }

    /// Any bytes, cut anywhere, decode exactly as the whole stream would in one piece.
    @Test func chunkingNeverChangesTheText() {
        var generator = SeededGenerator(seed: 0x5EED)
        // Biased towards bytes that start, continue or break multi-byte sequences.
        let alphabet: [UInt8] = [0x41, 0x0A, 0x80, 0x8F, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE2, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF]
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0...40, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }
            var chunker = UTF8Chunker()
            var text = ""
            var rest = bytes[...]
            while !rest.isEmpty {
                let cut = Int.random(in: 1...rest.count, using: &generator)
                text += chunker.decode(Array(rest.prefix(cut)))
                #expect(chunker.pending.count <= 3)
                rest = rest.dropFirst(cut)
            }
            text += chunker.finish()
            #expect(text == String(decoding: bytes, as: UTF8.self), "\(bytes)")
        }
    }

    /// The writer's one-pass escaper agrees with decoding the whole stream first and escaping
    /// the text: for any bytes, cut anywhere, including cuts inside the eight-byte words and
    /// across its 4096-byte blocks.
    @Test func escaperMatchesDecodeThenEscapeForAnyChunking() throws {
        var generator = SeededGenerator(seed: 0xE5CA9E)
        let alphabet: [UInt8] = [
            0x00, 0x07, 0x0A, 0x0D, 0x1B, 0x22, 0x5C, 0x41, 0x61, 0x20, 0x7E, 0x7F, 0x80, 0x85, 0x9F, 0xA0, 0xBF,
            0xC0, 0xC2, 0xDF, 0xE0, 0xE2, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF,
        ]
        for round in 0..<300 {
            let length = round % 10 == 0 ? Int.random(in: 4000...9000, using: &generator) : Int.random(in: 0...80, using: &generator)
            // Half the rounds mostly printable ASCII, so the eight-byte fast path runs too.
            let bytes = (0..<length).map { _ in
                round % 2 == 0 && Int.random(in: 0..<8, using: &generator) > 0
                    ? UInt8.random(in: 0x20...0x7E, using: &generator) : alphabet.randomElement(using: &generator)!
            }
            var escaper = AsciicastEscaper()
            var encoded: [UInt8] = []
            var rest = bytes[...]
            while !rest.isEmpty {
                let cut = Int.random(in: 1...rest.count, using: &generator)
                escaper.append(Array(rest.prefix(cut)), to: &encoded)
                #expect(escaper.pending.count <= 3)
                rest = rest.dropFirst(cut)
            }
            escaper.finish(to: &encoded)
            let text = String(decoding: bytes, as: UTF8.self)
            #expect("\"" + String(decoding: encoded, as: UTF8.self) + "\"" == AsciicastLine.string(text), "\(bytes)")
            let decoded = try JSONSerialization.jsonObject(with: Data("[\"".utf8 + encoded + "\"]".utf8)) as? [String]
            #expect(decoded == [text])
        }
    }

    @Test func escaperWritesSixBytesPerNulAndKeepsCharactersAcrossBlocks() {
        var escaper = AsciicastEscaper()
        var encoded: [UInt8] = []
        escaper.append([UInt8](repeating: 0, count: 3), to: &encoded)
        #expect(String(decoding: encoded, as: UTF8.self) == #"\u0000\u0000\u0000"#)
        // A euro sign straddling the first block boundary, then printable text.
        let euro: [UInt8] = [0xE2, 0x82, 0xAC]
        let bytes = [UInt8](repeating: UInt8(ascii: "x"), count: AsciicastEscaper.blockSize - 1) + euro + Array("tail".utf8)
        encoded = []
        escaper.append(bytes, to: &encoded)
        #expect(encoded == bytes)
        #expect(escaper.pending.isEmpty)
    }

    @Test func queueRefusesWhenFullAndGivesBackSpaceInOneStep() {
        var queue = RecordingQueue(capacity: 2)
        #expect(queue.take() == .wait)
        #expect(queue.offer(.output([1]), at: 1) == .accepted(wakeWriter: true))
        #expect(queue.offer(.output([2]), at: 2) == .accepted(wakeWriter: false))
        #expect(queue.offer(.output([3]), at: 3) == .rejected)
        #expect(queue.take() == .write([.init(time: 1, event: .output([1])), .init(time: 2, event: .output([2]))]))
        #expect(queue.offer(.output([3]), at: 3) == .accepted(wakeWriter: false))
        // A clock stepping backwards never makes times decrease.
        #expect(queue.offer(.marker("m"), at: 0.5) == .accepted(wakeWriter: false))
        #expect(queue.take() == .write([.init(time: 3, event: .output([3])), .init(time: 3, event: .marker("m"))]))
    }

    @Test func queueRefusesPastItsByteBoundButAlwaysTakesOneEvent() {
        var queue = RecordingQueue(capacity: 100, byteCapacity: 10)
        #expect(queue.offer(.output([UInt8](repeating: 1, count: 64)), at: 1) == .accepted(wakeWriter: false))
        #expect(queue.offer(.output([2]), at: 2) == .rejected)
        #expect(queue.take() == .write([.init(time: 1, event: .output([UInt8](repeating: 1, count: 64)))]))
        #expect(queue.offer(.output([UInt8](repeating: 3, count: 6)), at: 3) == .accepted(wakeWriter: false))
        #expect(queue.offer(.output([UInt8](repeating: 4, count: 4)), at: 4) == .accepted(wakeWriter: false))
        #expect(queue.offer(.output([5]), at: 5) == .rejected)
        #expect(queue.queuedBytes == 10)
    }

    @Test func queueDrainsBeforeFinishingAndRefusesAfterClose() {
        var queue = RecordingQueue(capacity: 4)
        _ = queue.offer(.resize(columns: 80, rows: 24), at: 1)
        #expect(queue.requestClose(at: 0.5) == .requested(wakeWriter: false))
        #expect(queue.requestClose(at: 9) == .alreadyClosed)
        #expect(queue.offer(.output([1]), at: 2) == .rejected)
        #expect(queue.take() == .write([.init(time: 1, event: .resize(columns: 80, rows: 24))]))
        #expect(queue.take() == .finish(duration: 1))
    }

    @Test func failedQueueDiscardsAndRefuses() {
        var queue = RecordingQueue(capacity: 4)
        _ = queue.offer(.output([1]), at: 1)
        queue.fail(RecordingError(.writeFailed, "ENOSPC"))
        #expect(queue.failure?.code == .writeFailed)
        #expect(queue.entries.isEmpty)
        #expect(queue.offer(.output([2]), at: 2) == .rejected)
    }

    @Test func datePathIsUTC() {
        // 2027-01-15T23:59:59Z, already the 16th east of UTC.
        #expect(RecordingFileSystem.datePath(for: Date(timeIntervalSince1970: 1_800_057_599)) == "2027/01/15")
        #expect(RecordingFileSystem.datePath(for: Date(timeIntervalSince1970: 1_800_057_600)) == "2027/01/16")
    }

    @Test(arguments: [
        ("0f3a-9c1e", true), ("session_1.2", true), ("", false), ("../etc", false), (".hidden", false),
        ("a/b", false), ("a b", false), (String(repeating: "x", count: 201), false),
    ])
    func sessionIDMustBeAPlainFileName(_ id: String, _ valid: Bool) {
        #expect(RecordingFileSystem.isValidSessionID(id) == valid)
    }
}
