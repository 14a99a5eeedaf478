internal import COpenSSL

/// SHA-256 (FIPS 180-4) over data that arrives in pieces, such as a recording's plaintext
/// hashed chunk by chunk while it is sealed, so the whole text never has to be held at once.
///
/// Not `Sendable`: the digest state is mutable. One instance per writer or reader.
public final class IncrementalSHA256 {
    private let digestMethod: OpaquePointer
    private let context: OpaquePointer

    /// A fresh context, as if no byte had been hashed yet.
    public init() {
        // Failure here means libcrypto has no SHA-256 at all; `SHA256.hash` traps likewise.
        guard let method = EVP_MD_fetch(nil, "SHA256", nil), let context = EVP_MD_CTX_new() else {
            fatalError("SHA-256 unavailable in libcrypto")
        }
        self.digestMethod = method
        self.context = context
        reset()
    }

    deinit {
        EVP_MD_CTX_free(context)
        EVP_MD_free(digestMethod)
    }

    /// Appends `bytes` to the hashed message.
    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        guard EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) == 1 else {
            fatalError("SHA-256 failed in libcrypto")
        }
    }

    /// Appends `bytes` to the hashed message.
    public func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest of everything appended since the last reset; the context then starts over.
    public func finalize() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: SHA256.byteCount)
        var length: UInt32 = 0
        guard EVP_DigestFinal_ex(context, &digest, &length) == 1, Int(length) == SHA256.byteCount else {
            fatalError("SHA-256 failed in libcrypto")
        }
        reset()
        return digest
    }

    private func reset() {
        guard EVP_DigestInit_ex2(context, digestMethod, nil) == 1 else {
            fatalError("SHA-256 unavailable in libcrypto")
        }
    }
}
