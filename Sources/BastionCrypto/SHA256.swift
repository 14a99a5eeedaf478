internal import COpenSSL

/// SHA-256 (FIPS 180-4) over OpenSSL's EVP interface.
///
/// Used for OpenSSH key fingerprints (`SHA256:` + base64) and audit chaining.
public enum SHA256 {
    /// The digest length in bytes.
    public static let byteCount = 32

    /// Hashes `bytes` in one shot.
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        // EVP_Digest only fails on allocation failure or a missing provider; both mean
        // the process cannot do any cryptography at all, so trapping is the honest answer.
        guard EVP_Digest(bytes, bytes.count, &digest, &length, EVP_sha256(), nil) == 1 else {
            fatalError("SHA-256 unavailable in libcrypto: \(CryptoError.openSSL(.invalidKey, "EVP_Digest"))")
        }
        return Array(digest.prefix(Int(length)))
    }
}
