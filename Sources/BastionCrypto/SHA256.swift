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

/// A reusable SHA-256 context for hashing many small messages in a row (verifying an audit
/// chain of millions of records): the digest is fetched from the provider once and the
/// context is reset, not reallocated, per message. One per thread; not `Sendable`.
public final class SHA256Hasher {
    private let digestMethod: OpaquePointer
    private let context: OpaquePointer

    public init() {
        guard let method = EVP_MD_fetch(nil, "SHA256", nil), let context = EVP_MD_CTX_new() else {
            fatalError("SHA-256 unavailable in libcrypto")
        }
        self.digestMethod = method
        self.context = context
    }

    deinit {
        EVP_MD_CTX_free(context)
        EVP_MD_free(digestMethod)
    }

    /// SHA-256 of `first ‖ second`, written into `output` (32 bytes).
    public func hash(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) {
        precondition(output.count >= SHA256.byteCount)
        var length: UInt32 = 0
        guard EVP_DigestInit_ex2(context, digestMethod, nil) == 1,
            EVP_DigestUpdate(context, first.baseAddress, first.count) == 1,
            EVP_DigestUpdate(context, second.baseAddress, second.count) == 1,
            EVP_DigestFinal_ex(context, output.baseAddress?.assumingMemoryBound(to: UInt8.self), &length) == 1
        else {
            fatalError("SHA-256 failed in libcrypto")
        }
    }

    /// SHA-256 of `first ‖ second`.
    public func hash(_ first: [UInt8], _ second: [UInt8]) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: SHA256.byteCount)
        first.withUnsafeBytes { a in
            second.withUnsafeBytes { b in
                output.withUnsafeMutableBytes { hash(a, b, into: $0) }
            }
        }
        return output
    }
}
