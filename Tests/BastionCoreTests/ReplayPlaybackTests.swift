import BastionCore
import Foundation
import Testing

/// The replay player against a fake clock: timing, speed, idle limit, `--from`, markers,
/// pause; and the SSH conversation's keys and end.
@Suite("Replay playback")
struct ReplayPlaybackTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func at(_ seconds: Double) -> Date { t0.addingTimeInterval(seconds) }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    static let events: [CastPlayback.Event] = [
        .output(0.5, "a"), .output(1.0, "b"), .marker(2.0, "elevated"), .output(2.0, "c"), .output(12.0, "d"), .output(13.0, "e"),
    ]

    @Test("events come out at their recorded times, batched per tick")
    func originalTiming() {
        var playback = CastPlayback(events: Self.events)
        #expect(playback.start(now: Self.at(0)).isEmpty)
        #expect(Self.text(playback.advance(now: Self.at(0.4))) == "")
        #expect(Self.text(playback.advance(now: Self.at(0.5))) == "a")
        #expect(Self.text(playback.advance(now: Self.at(2.05))) == "bc")
        #expect(playback.delayUntilNext(now: Self.at(2.05)).map { abs($0 - 9.95) < 1e-6 } == true)
        #expect(Self.text(playback.advance(now: Self.at(11.9))) == "")
        #expect(Self.text(playback.advance(now: Self.at(13))) == "de")
        #expect(playback.isFinished)
    }

    @Test("speed 2 halves every wait")
    func speed() {
        var playback = CastPlayback(events: Self.events, speed: 2)
        _ = playback.start(now: Self.at(0))
        #expect(Self.text(playback.advance(now: Self.at(0.5))) == "ab")
        #expect(Self.text(playback.advance(now: Self.at(5.9))) == "c")
        #expect(Self.text(playback.advance(now: Self.at(6.0))) == "d")
    }

    @Test("the idle limit caps every gap, the first one too")
    func idleLimit() {
        var playback = CastPlayback(events: [.output(5, "a"), .output(6, "b"), .output(100, "c")], idleLimit: 1)
        _ = playback.start(now: Self.at(0))
        #expect(Self.text(playback.advance(now: Self.at(0.9))) == "")
        #expect(Self.text(playback.advance(now: Self.at(1))) == "a")
        #expect(Self.text(playback.advance(now: Self.at(2))) == "b")
        #expect(Self.text(playback.advance(now: Self.at(3))) == "c")
        #expect(playback.isFinished)
    }

    @Test("--from writes everything before it at once, then keeps the timing from there")
    func from() {
        var playback = CastPlayback(events: Self.events)
        #expect(Self.text(playback.start(at: 10, now: Self.at(0))) == "abc")
        #expect(Self.text(playback.advance(now: Self.at(1.9))) == "")
        #expect(Self.text(playback.advance(now: Self.at(2.0))) == "d")
    }

    @Test("pause freezes playback; resuming goes on where it stopped")
    func pause() {
        var playback = CastPlayback(events: Self.events)
        _ = playback.start(now: Self.at(0))
        #expect(Self.text(playback.advance(now: Self.at(0.6))) == "a")
        playback.togglePause(now: Self.at(0.6))
        #expect(Self.text(playback.advance(now: Self.at(50))) == "")
        #expect(playback.delayUntilNext(now: Self.at(50)) == nil)
        playback.togglePause(now: Self.at(50))
        #expect(Self.text(playback.advance(now: Self.at(50.25))) == "")
        #expect(Self.text(playback.advance(now: Self.at(50.5))) == "b")
    }

    @Test("+ and - change the speed from the current position, within bounds")
    func speedKeys() {
        var playback = CastPlayback(events: Self.events)
        _ = playback.start(now: Self.at(0))
        playback.changeSpeed(by: 2, now: Self.at(1.0))  // position 1.0
        #expect(playback.speed == 2)
        #expect(Self.text(playback.advance(now: Self.at(1.0))) == "ab")
        #expect(Self.text(playback.advance(now: Self.at(1.5))) == "c")  // position 2.0
        for _ in 0..<20 { playback.changeSpeed(by: 0.5, now: Self.at(2)) }
        #expect(playback.speed == CastPlayback.speedRange.lowerBound)
    }

    @Test("] writes everything up to the next marker at once; without one nothing changes")
    func markers() throws {
        var playback = CastPlayback(events: Self.events)
        _ = playback.start(now: Self.at(0))
        let skipped = playback.skipToNextMarker(now: Self.at(0.25))
        let jump = try #require(skipped)
        #expect(jump.label == "elevated")
        #expect(Self.text(jump.output) == "ab")
        // The marker's time is now: "c" shares it, "d" is 10 s later.
        #expect(Self.text(playback.advance(now: Self.at(0.25))) == "c")
        #expect(Self.text(playback.advance(now: Self.at(10.125))) == "")
        #expect(Self.text(playback.advance(now: Self.at(10.25))) == "d")
        let none = playback.skipToNextMarker(now: Self.at(10.5))
        #expect(none == nil)
    }

    @Test("a cast file parses: header, output and markers; input and resizes are not played; broken lines are skipped")
    func parse() throws {
        let cast = """
            {"version": 2, "width": 100, "height": 30, "timestamp": 1800000000, "bastion": {"session_id": "s1", "user": "alice", "login": "root", "target": "web01", "source": "127.0.0.1"}}
            [0.100000, "o", "hello\\r\\n"]
            [0.200000, "i", "secret"]
            [0.300000, "r", "120x40"]
            [0.400000, "m", "elevation"]
            [0.500000, "o", "\\u001b[1mbye\\u001b[0m"]
            [0.6, "o", "trunc
            """
        let playback = try CastPlayback(cast: Data(cast.utf8))
        #expect(playback.header == .init(width: 100, height: 30, startedAt: Self.t0, sessionID: "s1", user: "alice", login: "root", target: "web01"))
        #expect(playback.events == [.output(0.1, "hello\r\n"), .marker(0.4, "elevation"), .output(0.5, "\u{1B}[1mbye\u{1B}[0m")])
        #expect(throws: CastPlayback.ParseError.self) { try CastPlayback(cast: Data("[0.1, \"o\", \"x\"]\n".utf8)) }
    }

    // MARK: - The conversation

    static func castFile(_ events: [String]) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("replay-\(UUID().uuidString).cast").path
        let header = #"{"version": 2, "width": 80, "height": 24, "timestamp": 1800000000}"#
        try ([header] + events).joined(separator: "\n").appending("\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("the conversation clears, shows the banner, plays verbatim, and ends with a line and exit 0")
    func conversationPlaysToTheEnd() throws {
        let path = try Self.castFile([#"[0.5, "o", "one\n"]"#, #"[1.0, "i", "typed"]"#, #"[1.5, "o", "two\r\n"]"#])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let conversation = ReplayConversation(sessionID: "s1", path: path, banner: "replaying s1", options: .init())
        let first = conversation.start(now: Self.at(0))
        #expect(first.verbatim)
        #expect(Self.text(first.stdout).hasPrefix("\u{1B}[H\u{1B}[2Jreplaying s1\r\n"))
        #expect(first.exitStatus == nil)
        #expect(Self.text(conversation.tick(now: Self.at(0.6)).stdout) == "one\n")  // no LF → CR LF: verbatim
        #expect(conversation.endOfInput(now: Self.at(0.7)) == .nothing)
        let last = conversation.tick(now: Self.at(1.6))
        #expect(Self.text(last.stdout).hasPrefix("two\r\n\r\nend of session s1\r\n"))
        #expect(!Self.text(last.stdout).contains("typed"))
        #expect(last.exitStatus == 0)
    }

    @Test("keys: space pauses, q quits early with exit 0, Ctrl-C with 130; an unreadable file is one line, exit 1")
    func conversationKeys() throws {
        let path = try Self.castFile([#"[1, "o", "a"]"#, #"[2, "o", "b"]"#, #"[3, "m", "x"]"#, #"[30, "o", "c"]"#])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let conversation = ReplayConversation(sessionID: "s1", path: path, banner: "b", options: .init())
        _ = conversation.start(now: Self.at(0))
        #expect(conversation.receive(Array(" ".utf8), now: Self.at(0.5)) == .nothing)
        #expect(conversation.tick(now: Self.at(10)) == .nothing)
        #expect(Self.text(conversation.receive(Array(" ".utf8), now: Self.at(10)).stdout) == "")
        #expect(Self.text(conversation.tick(now: Self.at(10.5)).stdout) == "a")
        #expect(Self.text(conversation.receive(Array("]".utf8), now: Self.at(10.6)).stdout) == "b")
        let quit = conversation.receive(Array("q".utf8), now: Self.at(11))
        #expect(quit.exitStatus == 0)
        #expect(Self.text(quit.stdout).contains("replay of session s1 stopped"))
        #expect(conversation.tick(now: Self.at(40)) == .nothing)

        let other = ReplayConversation(sessionID: "s2", path: path, banner: "b", options: .init(speed: 4, from: 2.5))
        #expect(Self.text(other.start(now: Self.at(0)).stdout).hasSuffix("ab"))
        #expect(other.receive([0x03], now: Self.at(1)).exitStatus == 130)

        let missing = ReplayConversation(sessionID: "s3", path: path + ".gone", banner: "b", options: .init())
        let refused = missing.start(now: Self.at(0))
        #expect(refused.exitStatus == 1)
        #expect(Self.text(refused.stderr) == "bastion: session s3: cannot read the recording\n")
    }

    @Test("--raw streams the file byte for byte in bounded slices, then exits 0")
    func rawStream() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("raw-\(UUID().uuidString).cast").path
        let bytes = (0..<(CastStreamConversation.sliceSize + 1000)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let conversation = CastStreamConversation(sessionID: "s1", path: path)
        let first = conversation.start(now: Self.at(0))
        #expect(first.verbatim)
        #expect(first.stdout.count == CastStreamConversation.sliceSize)
        #expect(first.exitStatus == nil)
        let second = conversation.tick(now: Self.at(0.1))
        #expect(second.exitStatus == 0)
        #expect(first.stdout + second.stdout == bytes)
    }
}
