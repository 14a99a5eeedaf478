/// Builds byte buffers out of the data types of RFC 4251 §5.
public struct SSHWireWriter: Sendable {
    /// Everything written so far.
    public private(set) var bytes: [UInt8]

    public init() {
        self.bytes = []
    }

    /// Raw bytes, no length prefix.
    public mutating func writeBytes(_ raw: [UInt8]) {
        bytes.append(contentsOf: raw)
    }

    /// `byte`.
    public mutating func writeUInt8(_ value: UInt8) {
        bytes.append(value)
    }

    /// `boolean`, written as 0 or 1 as RFC 4251 §5 requires of senders.
    public mutating func writeBool(_ value: Bool) {
        bytes.append(value ? 1 : 0)
    }

    /// `uint32`, big-endian.
    public mutating func writeUInt32(_ value: UInt32) {
        for shift in stride(from: 24, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }

    /// `uint64`, big-endian.
    public mutating func writeUInt64(_ value: UInt64) {
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    /// `string` of arbitrary bytes.
    public mutating func writeString(_ raw: [UInt8]) {
        precondition(raw.count <= Int(UInt32.max), "SSH string longer than 4 GiB")
        writeUInt32(UInt32(raw.count))
        bytes.append(contentsOf: raw)
    }

    /// `string` holding UTF-8 text.
    public mutating func writeString(_ text: String) {
        writeString(Array(text.utf8))
    }

    /// Non-negative `mpint` from a big-endian magnitude: leading zeros are stripped and
    /// one 0x00 is prepended when the top bit is set, so the value stays positive and
    /// minimal (RFC 4251 §5).
    public mutating func writeMPInt(magnitude: [UInt8]) {
        var value = Array(magnitude.drop(while: { $0 == 0 }))
        if let first = value.first, first & 0x80 != 0 { value.insert(0, at: 0) }
        writeString(value)
    }

    /// `name-list`: names joined with commas.
    public mutating func writeNameList(_ names: [String]) {
        writeString(names.joined(separator: ","))
    }
}
