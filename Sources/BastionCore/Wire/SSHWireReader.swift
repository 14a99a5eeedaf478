/// Reads the data types of RFC 4251 §5 from a byte buffer, front to back.
///
/// Every read checks bounds and throws `.truncated` instead of trapping, because every
/// byte it sees comes from a peer or a file. Strict callers finish with `expectEnd()`.
public struct SSHWireReader: Sendable {
    private let bytes: [UInt8]
    /// Offset of the next unread byte.
    public private(set) var offset: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.offset = 0
    }

    /// Unread byte count.
    public var remainingCount: Int { bytes.count - offset }
    /// True once every byte has been read.
    public var isAtEnd: Bool { offset == bytes.count }

    /// Throws `.trailingBytes` unless everything was consumed.
    public func expectEnd() throws(FormatError) {
        guard isAtEnd else {
            throw FormatError(.trailingBytes, "\(remainingCount) unexpected trailing bytes")
        }
    }

    /// `count` raw bytes.
    public mutating func readBytes(_ count: Int) throws(FormatError) -> [UInt8] {
        guard count >= 0, count <= remainingCount else {
            throw FormatError(.truncated, "need \(count) bytes, \(remainingCount) left")
        }
        let slice = Array(bytes[offset ..< offset + count])
        offset += count
        return slice
    }

    /// `byte` (RFC 4251 §5).
    public mutating func readUInt8() throws(FormatError) -> UInt8 {
        guard remainingCount >= 1 else { throw FormatError(.truncated, "need 1 byte, none left") }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// `boolean`: any non-zero value is true (RFC 4251 §5).
    public mutating func readBool() throws(FormatError) -> Bool {
        try readUInt8() != 0
    }

    /// `uint32`, big-endian.
    public mutating func readUInt32() throws(FormatError) -> UInt32 {
        try readBytes(4).reduce(0) { ($0 << 8) | UInt32($1) }
    }

    /// `uint64`, big-endian.
    public mutating func readUInt64() throws(FormatError) -> UInt64 {
        try readBytes(8).reduce(0) { ($0 << 8) | UInt64($1) }
    }

    /// `string`: uint32 length then that many arbitrary bytes.
    public mutating func readString() throws(FormatError) -> [UInt8] {
        let length = try readUInt32()
        return try readBytes(Int(length))
    }

    /// A `string` that must be valid UTF-8 (key IDs, principals, type names).
    public mutating func readUTF8String() throws(FormatError) -> String {
        let raw = try readString()
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw FormatError(.invalidField, "string is not valid UTF-8")
        }
        return text
    }

    /// A non-negative `mpint`, returned as its big-endian magnitude without leading zeros
    /// (empty for zero).
    ///
    /// RFC 4251 §5 forbids unnecessary leading 0x00 bytes; negative values have no use in
    /// SSH keys and are refused, as OpenSSH does (`SSH_ERR_BIGNUM_IS_NEGATIVE`).
    public mutating func readMPInt() throws(FormatError) -> [UInt8] {
        let raw = try readString()
        guard let first = raw.first else { return [] }
        guard first & 0x80 == 0 else { throw FormatError(.invalidField, "negative mpint") }
        if first == 0 {
            guard raw.count > 1, raw[1] & 0x80 != 0 else {
                throw FormatError(.invalidField, "mpint with an unnecessary leading zero")
            }
            return Array(raw.dropFirst())
        }
        return raw
    }

    /// `name-list`: comma-separated, non-empty US-ASCII names (RFC 4251 §5).
    public mutating func readNameList() throws(FormatError) -> [String] {
        let raw = try readString()
        if raw.isEmpty { return [] }
        guard raw.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E }) else {
            throw FormatError(.invalidField, "name-list with non-printable or non-ASCII bytes")
        }
        let names = raw.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false)
        guard names.allSatisfy({ !$0.isEmpty }) else {
            throw FormatError(.invalidField, "name-list with an empty name")
        }
        return names.map { String(decoding: $0, as: UTF8.self) }
    }
}
