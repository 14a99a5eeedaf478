internal import COpenSSL

/// HMAC (RFC 2104) with SHA-1 or SHA-256.
///
/// SHA-1 is here only because RFC 6238 TOTP with authenticator apps uses HMAC-SHA1;
/// HMAC-SHA1 remains sound as a PRF even though SHA-1 collisions are practical.
public enum HMAC {
    /// HMAC-SHA1, 20 bytes (RFC 2202 vectors; the TOTP default of RFC 6238 §1.2).
    public static func sha1(key: [UInt8], message: [UInt8]) -> [UInt8] {
        compute(EVP_sha1(), key: key, message: message)
    }

    /// HMAC-SHA256, 32 bytes (RFC 4231 vectors).
    public static func sha256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        compute(EVP_sha256(), key: key, message: message)
    }

    private static func compute(_ md: OpaquePointer?, key: [UInt8], message: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        // Array-to-pointer conversion never yields NULL, which matters: HMAC() treats a NULL
        // key as "reuse the previous key" on some code paths.
        guard COpenSSL.HMAC(md, key, Int32(key.count), message, message.count, &output, &length) != nil else {
            fatalError("HMAC unavailable in libcrypto: \(CryptoError.openSSL(.invalidKey, "HMAC"))")
        }
        return Array(output.prefix(Int(length)))
    }
}
