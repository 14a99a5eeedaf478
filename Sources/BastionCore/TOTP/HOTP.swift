import BastionCrypto

/// HOTP (RFC 4226): an HMAC-SHA1 of a counter, truncated to a short decimal code.
public enum HOTP {
    /// The code for `counter` (RFC 4226 §5.3): HMAC-SHA1(K, C as 8 big-endian bytes),
    /// dynamic truncation to 31 bits, modulo 10^digits, zero-padded on the left.
    public static func code(secret: [UInt8], counter: UInt64, digits: Int = 6) -> String {
        precondition((1 ... 9).contains(digits), "HOTP digits must be 1...9")
        let message = (0 ..< 8).map { UInt8(truncatingIfNeeded: counter >> UInt64(56 - 8 * $0)) }
        let mac = HMAC.sha1(key: secret, message: message)
        // Dynamic truncation (§5.3): the low nibble of the last byte picks 4 bytes; the top
        // bit is masked so signed and unsigned implementations agree.
        let offset = Int(mac[mac.count - 1] & 0x0F)
        let binary = (UInt32(mac[offset] & 0x7F) << 24) | (UInt32(mac[offset + 1]) << 16)
            | (UInt32(mac[offset + 2]) << 8) | UInt32(mac[offset + 3])
        var modulus: UInt32 = 1
        for _ in 0 ..< digits { modulus *= 10 }
        let value = String(binary % modulus)
        return String(repeating: "0", count: digits - value.count) + value
    }
}
