import Foundation

/// The server-sent events that asciinema-player's `eventsource` driver plays (`/live/ID/events`):
/// a reset with the terminal size, then `[seconds, "o", text]` output events, then a `done`
/// event (the driver closes the stream instead of reconnecting, which would start a new watch).
///
/// The session's bytes arrive in arbitrary chunks: a UTF-8 sequence cut at the end of one is
/// held back and completed by the next, so the text is never mangled at a chunk boundary.
struct LiveEventStream {
    /// The tail of the last chunk: the start of a UTF-8 sequence still missing bytes.
    private var carry: [UInt8] = []

    /// The player's terminal is reset to the watched terminal's size first (80×24 without a
    /// PTY; the player scales to the page's width).
    static func reset(cols: Int = 80, rows: Int = 24) -> String {
        "data: {\"cols\":\(cols),\"rows\":\(rows),\"time\":0}\n\n"
    }

    /// The watched terminal changed size (the driver's `"r"` event takes `{cols, rows}`).
    static func resize(cols: Int, rows: Int, at time: Double) -> String {
        "data: [\((time * 1_000).rounded() / 1_000),\"r\",{\"cols\":\(cols),\"rows\":\(rows)}]\n\n"
    }

    /// Keeps the connection visibly alive (a comment line, ignored by the browser): a write
    /// to a closed page fails, which is how a closed page ends the watch.
    static let keepalive = ": keepalive\n\n"

    static let done = "event: done\ndata: {}\n\n"

    /// `bytes` as one output event at `time` seconds; nil when nothing complete is left.
    mutating func output(_ bytes: [UInt8], at time: Double) -> String? {
        let all = carry + bytes
        let cut = Self.completePrefix(all)
        carry = Array(all[cut...])
        guard cut > 0 else { return nil }
        return Self.event(String(decoding: all[..<cut], as: UTF8.self), at: time)
    }

    /// What is held back (a cut sequence at the very end), then `line`.
    mutating func finish(_ line: String, at time: Double) -> String {
        let text = String(decoding: carry, as: UTF8.self) + line
        carry = []
        return Self.event(text, at: time)
    }

    static func event(_ text: String, at time: Double) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: [(time * 1_000).rounded() / 1_000, "o", text] as [Any])) ?? Data("[0,\"o\",\"\"]".utf8)
        return "data: " + String(decoding: data, as: UTF8.self) + "\n\n"
    }

    /// How many leading bytes end on a sequence boundary: all of them unless the last (up to
    /// three) bytes start a sequence that needs more.
    static func completePrefix(_ bytes: [UInt8]) -> Int {
        guard !bytes.isEmpty else { return 0 }
        for back in 1...min(3, bytes.count) {
            let byte = bytes[bytes.count - back]
            if byte & 0xC0 == 0x80 { continue }  // a continuation byte: look further back
            let needed = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
            return needed > back ? bytes.count - back : bytes.count
        }
        return bytes.count
    }
}
