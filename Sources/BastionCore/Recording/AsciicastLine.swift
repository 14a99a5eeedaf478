public import Foundation

/// Encodes the lines of an asciicast v2 file: one JSON header object, then one JSON array
/// `[time, code, data]` per event (https://docs.asciinema.org/manual/asciicast/v2/).
///
/// Written by hand rather than with `JSONEncoder` so that key order is fixed (the header reads
/// the same in every file), times have exactly six decimals, and no locale is involved.
/// Lines are returned without the trailing newline.
public enum AsciicastLine {
    /// The event codes of asciicast v2.
    public enum Code: String, Sendable {
        case output = "o"
        case input = "i"
        case resize = "r"
        case marker = "m"
    }

    /// The header line: `version`, `width`, `height`, `timestamp`, `env` (TERM and SHELL when
    /// known), `command`, `title`, and Bastion's own `bastion` object, which players ignore.
    public static func header(_ metadata: RecordingMetadata) -> String {
        var fields: [String] = [
            "\"version\": 2",
            "\"width\": \(metadata.width)",
            "\"height\": \(metadata.height)",
            "\"timestamp\": \(Int(metadata.startedAt.timeIntervalSince1970.rounded(.down)))",
        ]
        var environment: [String] = []
        if let term = metadata.term { environment.append("\"TERM\": \(string(term))") }
        if let shell = metadata.shell { environment.append("\"SHELL\": \(string(shell))") }
        if !environment.isEmpty { fields.append("\"env\": {\(environment.joined(separator: ", "))}") }
        if let command = metadata.command { fields.append("\"command\": \(string(command))") }
        if let title = metadata.title { fields.append("\"title\": \(string(title))") }
        let bastion = [
            "\"session_id\": \(string(metadata.sessionID))",
            "\"user\": \(string(metadata.user))",
            "\"login\": \(string(metadata.login))",
            "\"target\": \(string(metadata.target))",
            "\"source\": \(string(metadata.sourceAddress))",
        ]
        fields.append("\"bastion\": {\(bastion.joined(separator: ", "))}")
        return "{" + fields.joined(separator: ", ") + "}"
    }

    /// An event line, e.g. `[1.234567, "o", "ls\r\n"]`.
    public static func event(time: TimeInterval, code: Code, data: String) -> String {
        var line: [UInt8] = []
        appendEvent(time: time, code: code, utf8: Array(data.utf8), to: &line)
        return String(decoding: line, as: UTF8.self)
    }

    /// Appends an event line (without newline) whose data is already well-formed UTF-8.
    static func appendEvent(time: TimeInterval, code: Code, utf8 data: [UInt8], to line: inout [UInt8]) {
        appendEventPrefix(time: time, code: code, to: &line)
        AsciicastEscaper.appendComplete(data, to: &line)
        appendEventSuffix(to: &line)
    }

    /// `[1.234567, "o", "`: an event line up to the data's first byte.
    static func appendEventPrefix(time: TimeInterval, code: Code, to line: inout [UInt8]) {
        line.append(UInt8(ascii: "["))
        line.append(contentsOf: seconds(time).utf8)
        line.append(contentsOf: ", \"".utf8)
        line.append(contentsOf: code.rawValue.utf8)
        line.append(contentsOf: "\", \"".utf8)
    }

    /// `"]`: the end of an event line (without newline).
    static func appendEventSuffix(to line: inout [UInt8]) {
        line.append(UInt8(ascii: "\""))
        line.append(UInt8(ascii: "]"))
    }

    /// A non-negative time as seconds with six decimals (microseconds), without going through
    /// `String(format:)` and the C locale.
    public static func seconds(_ time: TimeInterval) -> String {
        let micros = time.isFinite && time > 0 ? Int64((time * 1_000_000).rounded()) : 0
        let fraction = String(micros % 1_000_000)
        return "\(micros / 1_000_000)." + String(repeating: "0", count: 6 - fraction.count) + fraction
    }

    /// A JSON string literal (RFC 8259 §7): quotes, backslash and every control character
    /// escaped, everything else emitted as UTF-8.
    ///
    /// DEL and C1 controls are escaped too: they are legal in JSON but invisible in a text
    /// editor, and an auditor reading the raw file should see them.
    public static func string(_ text: String) -> String {
        var out: [UInt8] = []
        appendString(utf8: Array(text.utf8), to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `data` (well-formed UTF-8) as a JSON string literal.
    static func appendString(utf8 data: [UInt8], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        AsciicastEscaper.appendComplete(data, to: &out)
        out.append(UInt8(ascii: "\""))
    }
}
