import Foundation

/// The searchable text of an asciicast v2 recording: the output (`"o"`) events, stripped of
/// terminal escapes. Input events are left out: with `capture_input` they would put typed
/// secrets into the index.
public enum CastText {
    /// Reads `path` up to `limit` bytes of text (the index keeps the start of long sessions;
    /// replay has all of it); lines that do not parse (a truncated last line) are skipped.
    ///
    /// Lines are found with `memchr` and read one at a time, so a session that printed
    /// gigabytes costs what its first `limit` bytes of text cost, not a pass over the file.
    public static func extract(from path: String, keys: RecordingKeys? = nil, limit: Int = 4 << 20) throws -> String {
        var data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe)
        if SealedRecording.isSealed(prefix: Array(data.prefix(8))) {
            guard let keys else { throw RecordingError(.unreadable, "\(path): sealed, and no master key here") }
            // Escaped asciicast is longer than the text it holds: twice the limit is plenty.
            data = Data(try keys.plaintextPrefix(atPath: path, count: 2 * limit))
        }
        return data.withUnsafeBytes { file -> String in
            guard let base = file.baseAddress else { return "" }
            var text = ""
            var start = 0
            var isHeader = true
            while start < file.count, text.utf8.count <= limit {
                let end = memchr(base + start, 0x0A, file.count - start).map { base.distance(to: UnsafeRawPointer($0)) } ?? file.count
                defer { start = end + 1 }
                if isHeader {
                    isHeader = false
                    continue
                }
                let line = Data(bytes: base + start, count: end - start)
                guard let event = try? JSONSerialization.jsonObject(with: line) as? [Any], event.count == 3,
                    event[1] as? String == "o", let output = event[2] as? String
                else { continue }
                text += TerminalText.strip(output)
            }
            return text
        }
    }
}
