public import Foundation

/// The searchable text of an asciicast v2 recording: the output (`"o"`) events, stripped of
/// terminal escapes. Input events are left out: with `capture_input` they would put typed
/// secrets into the index.
public enum CastText {
    /// Reads `path`; lines that do not parse (a truncated last line) are skipped.
    public static func extract(from path: String, limit: Int = 4 << 20) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        var text = ""
        var first = true
        for line in data.split(separator: UInt8(ascii: "\n")) {
            if first {
                first = false
                continue
            }
            guard let event = try? JSONSerialization.jsonObject(with: Data(line)) as? [Any], event.count == 3,
                event[1] as? String == "o", let output = event[2] as? String
            else { continue }
            text += TerminalText.strip(output)
            if text.utf8.count > limit { break }
        }
        return text
    }
}
