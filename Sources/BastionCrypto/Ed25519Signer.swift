/// Something that signs with an Ed25519 key it need not hold: a key in this process's memory
/// (``Ed25519PrivateKey``, the `file` key provider) or one inside an HSM that signs there and
/// never hands the key out (the `pkcs11` provider).
///
/// The certificate authorities and the audit checkpoints take a signer, so which provider
/// holds the key is decided once, at start, and nothing downstream can tell the difference.
public protocol Ed25519Signer: Sendable {
    /// The public half, known without asking the signer.
    var publicKey: Ed25519PublicKey { get }
    /// A pure Ed25519 signature (RFC 8032, no pre-hash) over `message`: 64 bytes.
    func signature(for message: [UInt8]) throws -> [UInt8]
}

extension Ed25519PrivateKey: Ed25519Signer {}
