internal import COpenSSL

/// An Ed25519 signing key (RFC 8032), kept as its 32-byte seed.
///
/// The seed is the whole secret (RFC 8032 §5.1.5 derives everything else from it). OpenSSL's
/// copy of the key is built once, with the value, and shared by its copies (``LoadedKey``):
/// building it per signature cost more than the signature.
public struct Ed25519PrivateKey: Sendable, CustomStringConvertible {
    /// The RFC 8032 private key ("seed").
    public let seed: [UInt8]
    /// The matching public key, derived once at construction.
    public let publicKey: Ed25519PublicKey
    private let loaded: LoadedKey

    /// Generates a new key from `RAND_bytes`.
    public init() throws(CryptoError) {
        try self.init(seed: SecureRandom.bytes(32))
    }

    /// Rebuilds a key from its 32-byte seed.
    public init(seed: [UInt8]) throws(CryptoError) {
        guard seed.count == 32 else {
            throw CryptoError(.invalidKey, "Ed25519 seed must be 32 bytes, got \(seed.count)")
        }
        let key = LoadedKey(try Self.makeKey(seed))
        var raw = [UInt8](repeating: 0, count: 32)
        var length = raw.count
        guard EVP_PKEY_get_raw_public_key(key.pointer, &raw, &length) == 1, length == 32 else {
            throw CryptoError.openSSL(.invalidKey, "EVP_PKEY_get_raw_public_key")
        }
        self.seed = seed
        self.loaded = key
        self.publicKey = try Ed25519PublicKey(rawRepresentation: raw)
    }

    /// Signs `message` (pure Ed25519, no pre-hash: what `ssh-ed25519` uses, RFC 8709 §6).
    public func signature(for message: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard let context = EVP_MD_CTX_new() else {
            throw CryptoError.openSSL(.signingFailed, "EVP_MD_CTX_new")
        }
        defer { EVP_MD_CTX_free(context) }
        // Ed25519 is one-shot: the digest argument must be NULL.
        guard EVP_DigestSignInit(context, nil, nil, nil, loaded.pointer) == 1 else {
            throw CryptoError.openSSL(.signingFailed, "EVP_DigestSignInit")
        }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = signature.count
        guard EVP_DigestSign(context, &signature, &length, message, message.count) == 1, length == 64 else {
            throw CryptoError.openSSL(.signingFailed, "EVP_DigestSign")
        }
        return signature
    }

    /// Never prints the seed, so a key that reaches a log line leaks nothing.
    public var description: String { "Ed25519PrivateKey(public: \(publicKey))" }

    private static func makeKey(_ seed: [UInt8]) throws(CryptoError) -> OpaquePointer {
        guard let key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, seed, seed.count) else {
            throw CryptoError.openSSL(.invalidKey, "EVP_PKEY_new_raw_private_key")
        }
        return key
    }
}
