/// A small JSON writer for the SIEM formats: members in the order the caller writes them,
/// no whitespace, strings escaped as the audit log's canonical JSON escapes them (`\"`,
/// `\\`, `\b \f \n \r \t`, other controls as `\u00XX`, everything else as UTF-8).
///
/// Foundation's encoders would need a Codable mirror of every format, and OCSF's nesting
/// changes per class; writing members by hand keeps each format's mapping in one readable place.
struct JSONText {
    private(set) var bytes: [UInt8] = []
    private var needsComma: [Bool] = [false]

    init(capacity: Int = 512) {
        bytes.reserveCapacity(capacity)
    }

    mutating func beginObject() {
        bytes.append(UInt8(ascii: "{"))
        needsComma.append(false)
    }

    mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma.removeLast()
    }

    /// Starts member `name`; the value follows.
    mutating func key(_ name: String) {
        if needsComma[needsComma.count - 1] { bytes.append(UInt8(ascii: ",")) }
        needsComma[needsComma.count - 1] = true
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    /// A string member, left out when nil.
    mutating func member(_ name: String, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    mutating func member(_ name: String, _ value: Int64) {
        key(name)
        bytes.append(contentsOf: String(value).utf8)
    }

    mutating func member(_ name: String, _ value: Int) {
        member(name, Int64(value))
    }

    mutating func member(_ name: String, _ value: Bool) {
        key(name)
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// A member whose value is already JSON (a formatted event inside an envelope).
    mutating func member(_ name: String, json: some Sequence<UInt8>) {
        key(name)
        bytes.append(contentsOf: json)
    }

    /// An object member built by `body`.
    mutating func object(_ name: String, _ body: (inout JSONText) -> Void) {
        key(name)
        beginObject()
        body(&self)
        endObject()
    }

    /// A string member of decimal text without quotes: a number already formatted
    /// (`1795390000.123`), so no binary floating point rounds it.
    mutating func member(_ name: String, number: String) {
        key(name)
        bytes.append(contentsOf: number.utf8)
    }

    mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
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
        bytes.append(UInt8(ascii: "\""))
    }

    /// `value` as a standalone JSON string literal.
    static func quoted(_ value: String) -> [UInt8] {
        var text = JSONText(capacity: value.utf8.count + 2)
        text.string(value)
        return text.bytes
    }
}
