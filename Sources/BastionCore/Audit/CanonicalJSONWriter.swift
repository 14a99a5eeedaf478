/// Writes canonical JSON by hand: keys in sorted order as the caller emits them, no
/// whitespace, strings escaped exactly as Foundation's `JSONEncoder` does with
/// `.withoutEscapingSlashes` (`\"`, `\\`, `\b \f \n \r \t`, other controls as `\u00XX`,
/// everything else as UTF-8).
///
/// Audit appends are on every login's path and the chain hashes these bytes, so the
/// encoding is both hot and frozen: a generic encoder cost five times more per record.
/// The SIEM formats (CEF envelopes, OCSF, HEC) are written with it too: one escaping rule.
public struct CanonicalJSONWriter {
    public private(set) var bytes: [UInt8] = []
    private var needsComma = [false]

    public init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    public mutating func beginObject() {
        bytes.append(UInt8(ascii: "{"))
        needsComma.append(false)
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma.removeLast()
    }

    /// Starts the member `key` (keys must come in sorted order; the caller guarantees it).
    public mutating func key(_ key: String) {
        if needsComma[needsComma.count - 1] { bytes.append(UInt8(ascii: ",")) }
        needsComma[needsComma.count - 1] = true
        string(key)
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func member(_ key: String, _ value: String?) {
        guard let value else { return }
        self.key(key)
        string(value)
    }

    public mutating func member(_ key: String, _ value: Int) {
        member(key, Int64(value))
    }

    public mutating func member(_ key: String, _ value: Int64) {
        self.key(key)
        bytes.append(contentsOf: String(value).utf8)
    }

    public mutating func member(_ key: String, _ value: Bool) {
        self.key(key)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// A member whose value is already JSON (a formatted event inside an envelope).
    public mutating func member(_ key: String, json: some Sequence<UInt8>) {
        self.key(key)
        bytes.append(contentsOf: json)
    }

    /// A member of decimal text written without quotes: a number already formatted
    /// (`1795390000.123`), so no binary floating point rounds it.
    public mutating func member(_ key: String, number: String) {
        self.key(key)
        bytes.append(contentsOf: number.utf8)
    }

    /// An object member built by `body`.
    public mutating func object(_ key: String, _ body: (inout CanonicalJSONWriter) -> Void) {
        self.key(key)
        beginObject()
        body(&self)
        endObject()
    }

    /// `value` as a standalone JSON string literal.
    public static func quoted(_ value: String) -> [UInt8] {
        var text = CanonicalJSONWriter(capacity: value.utf8.count + 2)
        text.string(value)
        return text.bytes
    }

    public mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            // Runs of bytes that need no escape are copied in one go (recordings streamed as
            // `session.data` are long strings full of quotes and backslashes).
            var runStart = 0
            for index in 0..<utf8.count {
                let byte = utf8[index]
                guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
                if index > runStart { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<index])) }
                escape(byte)
                runStart = index + 1
            }
            if utf8.count > runStart { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count])) }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func escape(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case 0x08: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
        case 0x0C: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
        case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        case 0..<0x20:
            let hex = Array("0123456789abcdef".utf8)
            bytes.append(contentsOf: Array("\\u00".utf8))
            bytes.append(hex[Int(byte >> 4)])
            bytes.append(hex[Int(byte & 0x0F)])
        default: bytes.append(byte)
        }
    }
}
