internal import COpenSSL

/// An Ed25519 verification key (RFC 8032 §5.1.5): 32 raw bytes.
public struct Ed25519PublicKey: Sendable, Hashable, CustomStringConvertible {
    /// The 32-byte encoded point, as carried in an `ssh-ed25519` key blob (RFC 8709 §4).
    public let rawRepresentation: [UInt8]
    /// The same key as OpenSSL holds it, built once (equality and hashing ignore it).
    private let loaded: LoadedKey

    /// Accepts 32 bytes that OpenSSL can load as an Ed25519 public key.
    public init(rawRepresentation: [UInt8]) throws(CryptoError) {
        guard rawRepresentation.count == 32 else {
            throw CryptoError(.invalidKey, "Ed25519 public key must be 32 bytes, got \(rawRepresentation.count)")
        }
        guard let key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, rawRepresentation, 32) else {
            throw CryptoError.openSSL(.invalidKey, "EVP_PKEY_new_raw_public_key")
        }
        self.loaded = LoadedKey(key)
        self.rawRepresentation = rawRepresentation
    }

    /// Checks a 64-byte RFC 8032 signature over `message`. Any failure, including a
    /// malformed signature or an OpenSSL error, is `false`: callers only need yes or no.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        guard signature.count == 64 else { return false }
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, nil, nil, loaded.pointer) == 1 else {
            ERR_clear_error()
            return false
        }
        let valid = EVP_DigestVerify(context, signature, signature.count, message, message.count) == 1
        // A failed verification leaves a reason on the thread's error queue; clear it so it
        // cannot be blamed on the next unrelated call.
        ERR_clear_error()
        return valid
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.rawRepresentation == rhs.rawRepresentation }
    public func hash(into hasher: inout Hasher) { hasher.combine(rawRepresentation) }

    public var description: String {
        "Ed25519PublicKey(" + rawRepresentation.map { String($0, radix: 16).leftPadded(to: 2) }.joined() + ")"
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
