internal import COpenSSL

/// Cryptographically secure random bytes from OpenSSL's DRBG (`RAND_bytes`).
///
/// Failure traps: a CSPRNG that cannot produce output is unrecoverable, and continuing
/// with weak nonces or keys would be worse than stopping.
public enum SecureRandom {
    /// `count` random bytes.
    public static func bytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0, "negative byte count")
        if count == 0 { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&buffer, Int32(count)) == 1 else {
            fatalError("RAND_bytes failed: \(CryptoError.openSSL(.invalidKey, "RAND_bytes"))")
        }
        return buffer
    }

    /// A uniformly random 64-bit value (certificate serials, checkints).
    public static func uint64() -> UInt64 {
        bytes(8).reduce(0) { ($0 << 8) | UInt64($1) }
    }
}
