/// HKDF with HMAC-SHA256 (RFC 5869): turns one secret into independent keys by purpose.
///
/// Used where a key handed over from elsewhere must not be used directly, for example a
/// recording's data key, which is mixed with the file's random salt so that a key provider
/// returning the same data key twice still never repeats a (key, nonce) pair.
public enum HKDF {
    /// The longest output RFC 5869 §2.3 allows for SHA-256: 255 blocks.
    public static let maximumOutputByteCount = 255 * SHA256.byteCount

    /// Extract-then-expand (RFC 5869 §2.2, §2.3). An empty salt means 32 zero bytes (§2.2).
    public static func sha256(key: [UInt8], salt: [UInt8], info: [UInt8], outputByteCount: Int) -> [UInt8] {
        precondition(outputByteCount >= 0 && outputByteCount <= maximumOutputByteCount, "HKDF output length out of range")
        let pseudoRandomKey = HMAC.sha256(key: salt.isEmpty ? [UInt8](repeating: 0, count: SHA256.byteCount) : salt, message: key)
        var output: [UInt8] = []
        output.reserveCapacity(outputByteCount)
        var block: [UInt8] = []
        var counter: UInt8 = 1
        while output.count < outputByteCount {
            block = HMAC.sha256(key: pseudoRandomKey, message: block + info + [counter])
            output.append(contentsOf: block.prefix(outputByteCount - output.count))
            counter &+= 1
        }
        return output
    }
}
