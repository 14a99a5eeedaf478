/// RFC 6587 §3.4.1 octet-counting framing, also RFC 5425's only framing over TLS:
/// `MSG-LEN SP SYSLOG-MSG`, MSG-LEN the length in octets, decimal, no leading zero.
///
/// The length counts bytes, never characters: a message with multi-byte UTF-8 counted in
/// characters makes the receiver cut it short and parse the rest as garbage, silently
/// (seen with rsyslog, ecosystem.md §4.6).
public enum OctetCounting {
    /// One framed message.
    public static func frame(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        append(message, to: &out)
        return out
    }

    /// Appends one framed message to `buffer` (several frames back to back make one write).
    public static func append(_ message: [UInt8], to buffer: inout [UInt8]) {
        buffer.reserveCapacity(buffer.count + message.count + 8)
        buffer.append(contentsOf: String(message.count).utf8)
        buffer.append(UInt8(ascii: " "))
        buffer.append(contentsOf: message)
    }

    /// Splits back-to-back frames into messages; nil when the bytes are not a whole number of
    /// well-formed frames. The inverse of ``append(_:to:)``, for tests and diagnostics.
    public static func split(_ bytes: [UInt8]) -> [[UInt8]]? {
        var messages: [[UInt8]] = []
        var index = 0
        while index < bytes.count {
            var length = 0
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                length = length * 10 + Int(bytes[index] - UInt8(ascii: "0"))
                guard length <= 1 << 30 else { return nil }
                index += 1
            }
            guard index > start, bytes[start] != UInt8(ascii: "0"), index < bytes.count, bytes[index] == UInt8(ascii: " "),
                bytes.count - (index + 1) >= length
            else { return nil }
            messages.append(Array(bytes[(index + 1)..<(index + 1 + length)]))
            index += 1 + length
        }
        return messages
    }
}
