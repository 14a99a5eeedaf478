/// Big-endian integers read from and written to untrusted bytes, always bounds-checked:
/// a short buffer yields `nil`, never a trap or an out-of-bounds read.
extension SealedRecording {
    /// The `width`-byte big-endian unsigned integer at `offset`, or `nil` past the end.
    static func bigEndian(_ bytes: UnsafeRawBufferPointer, at offset: Int, width: Int) -> UInt64? {
        guard width > 0, width <= 8, offset >= 0, offset <= bytes.count - width else { return nil }
        var value: UInt64 = 0
        for index in offset ..< offset + width {
            value = (value << 8) | UInt64(bytes[index])
        }
        return value
    }

    /// Writes `value`'s low `width` bytes big-endian at `offset`; the caller sized `bytes`.
    static func putBigEndian(_ value: UInt64, width: Int, into bytes: UnsafeMutableRawBufferPointer, at offset: Int) {
        precondition(width > 0 && width <= 8 && offset >= 0 && offset + width <= bytes.count)
        for index in 0 ..< width {
            bytes[offset + index] = UInt8(truncatingIfNeeded: value >> UInt64(8 * (width - 1 - index)))
        }
    }

    /// `value` as `width` big-endian bytes.
    static func bigEndianBytes(_ value: UInt64, width: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: width)
        bytes.withUnsafeMutableBytes { putBigEndian(value, width: width, into: $0, at: 0) }
        return bytes
    }
}
