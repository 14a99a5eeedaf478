internal import COpenSSL

/// X25519 key agreement (RFC 7748), for wrapping a backup's data key to an offline recovery
/// key: an ephemeral key per backup agrees a secret with the recovery public key, and only the
/// holder of the recovery private key can agree the same secret again.
public struct X25519PrivateKey: Sendable, CustomStringConvertible {
    /// The 32-byte scalar (RFC 7748 §5; OpenSSL clamps it).
    public let rawRepresentation: [UInt8]
    /// The matching 32-byte public key (u-coordinate).
    public let publicKey: [UInt8]

    /// A fresh key from `RAND_bytes`.
    public init() throws(CryptoError) {
        try self.init(rawRepresentation: SecureRandom.bytes(32))
    }

    public init(rawRepresentation: [UInt8]) throws(CryptoError) {
        guard rawRepresentation.count == 32 else {
            throw CryptoError(.invalidKey, "X25519 private key must be 32 bytes, got \(rawRepresentation.count)")
        }
        guard let key = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, rawRepresentation, 32) else {
            throw CryptoError.openSSL(.invalidKey, "EVP_PKEY_new_raw_private_key(X25519)")
        }
        defer { EVP_PKEY_free(key) }
        var raw = [UInt8](repeating: 0, count: 32)
        var length = raw.count
        guard EVP_PKEY_get_raw_public_key(key, &raw, &length) == 1, length == 32 else {
            throw CryptoError.openSSL(.invalidKey, "EVP_PKEY_get_raw_public_key(X25519)")
        }
        self.rawRepresentation = rawRepresentation
        self.publicKey = raw
    }

    /// The shared secret with `peerPublicKey` (RFC 7748 §6.1). An all-zero result (a
    /// low-order peer key, §6.1's check) is refused rather than used as a key.
    public func sharedSecret(with peerPublicKey: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard peerPublicKey.count == 32 else {
            throw CryptoError(.invalidKey, "X25519 public key must be 32 bytes, got \(peerPublicKey.count)")
        }
        guard let ours = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nil, rawRepresentation, 32) else {
            throw CryptoError.openSSL(.invalidKey, "EVP_PKEY_new_raw_private_key(X25519)")
        }
        defer { EVP_PKEY_free(ours) }
        guard let theirs = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nil, peerPublicKey, 32) else {
            throw CryptoError.openSSL(.invalidKey, "EVP_PKEY_new_raw_public_key(X25519)")
        }
        defer { EVP_PKEY_free(theirs) }
        guard let context = EVP_PKEY_CTX_new(ours, nil) else {
            throw CryptoError.openSSL(.invalidKey, "EVP_PKEY_CTX_new")
        }
        defer { EVP_PKEY_CTX_free(context) }
        var secret = [UInt8](repeating: 0, count: 32)
        var length = secret.count
        guard EVP_PKEY_derive_init(context) == 1, EVP_PKEY_derive_set_peer(context, theirs) == 1,
              EVP_PKEY_derive(context, &secret, &length) == 1, length == 32
        else {
            throw CryptoError.openSSL(.invalidKey, "EVP_PKEY_derive(X25519)")
        }
        guard secret.contains(where: { $0 != 0 }) else {
            throw CryptoError(.invalidKey, "X25519 shared secret is all zero (low-order public key)")
        }
        return secret
    }

    /// Never prints the scalar.
    public var description: String { "X25519PrivateKey(redacted)" }
}
