public import BastionCrypto
import Foundation

/// The offline recovery key of `backup.recovery_key`: an X25519 key pair whose public half
/// is configured on the bastion and whose private half is kept offline (paper, a vault), never
/// on the bastion. Every backup wraps its data keys to it, so a backup can be restored after
/// the bastion, its master key and its HSM token are all gone.
///
/// Text forms, one line each (`bastiond backup keygen` prints both):
/// - public: `bastion-recovery-x25519 BASE64(32 bytes)`
/// - private: `bastion-recovery-x25519-secret BASE64(32 bytes)`
///
/// Wrapping (an ECIES in the manner of age's X25519 recipient): an ephemeral X25519 key per
/// backup, `HKDF-SHA256(ikm: shared secret, salt: ephemeral public ‖ recovery public,
/// info: "bastion/backup/v1/recovery/" ‖ context)` gives a 32-byte key-encryption key, and
/// AES-256-GCM seals the data key under it with `context` as AAD.
public enum RecoveryKey {
    public static let publicPrefix = "bastion-recovery-x25519"
    public static let privatePrefix = "bastion-recovery-x25519-secret"

    /// A recovery public key as configured.
    public struct PublicKey: Sendable, Equatable {
        public let rawRepresentation: [UInt8]

        public init(rawRepresentation: [UInt8]) throws(BackupError) {
            guard rawRepresentation.count == 32 else { throw BackupError("a recovery key is 32 bytes") }
            self.rawRepresentation = rawRepresentation
        }

        /// Parses `bastion-recovery-x25519 BASE64`.
        public init(text: String) throws(BackupError) {
            let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
            guard parts.count == 2, parts[0] == Substring(RecoveryKey.publicPrefix), let bytes = Data(base64Encoded: String(parts[1])), bytes.count == 32 else {
                throw BackupError("not a recovery public key (expected \"\(RecoveryKey.publicPrefix) BASE64\", made by `bastiond backup keygen`)")
            }
            try self.init(rawRepresentation: Array(bytes))
        }

        public var text: String { RecoveryKey.publicPrefix + " " + Data(rawRepresentation).base64EncodedString() }

        /// `SHA256:` and unpadded base64, like an OpenSSH fingerprint.
        public var fingerprint: String {
            "SHA256:" + Data(SHA256.hash(rawRepresentation)).base64EncodedString().replacingOccurrences(of: "=", with: "")
        }
    }

    /// The private half, only ever read from a file the operator brings to a restore.
    public struct PrivateKey: Sendable {
        let key: X25519PrivateKey

        public init() throws {
            key = try X25519PrivateKey()
        }

        public init(text: String) throws(BackupError) {
            let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
            guard parts.count == 2, parts[0] == Substring(RecoveryKey.privatePrefix), let bytes = Data(base64Encoded: String(parts[1])),
                  let key = try? X25519PrivateKey(rawRepresentation: Array(bytes))
            else {
                throw BackupError("not a recovery private key (expected \"\(RecoveryKey.privatePrefix) BASE64\")")
            }
            self.key = key
        }

        public var text: String { RecoveryKey.privatePrefix + " " + Data(key.rawRepresentation).base64EncodedString() }
        public var publicKey: PublicKey { try! PublicKey(rawRepresentation: key.publicKey) }
    }

    /// `dataKey` wrapped to `recipient` with the backup's ephemeral key.
    public static func wrap(_ dataKey: SymmetricKey, to recipient: PublicKey, ephemeral: X25519PrivateKey, context: String) throws -> [UInt8] {
        let kek = try keyEncryptionKey(
            secret: ephemeral.sharedSecret(with: recipient.rawRepresentation), ephemeral: ephemeral.publicKey, recipient: recipient, context: context
        )
        return try AESGCM.seal(dataKey.bytes, using: kek, authenticating: Array(context.utf8))
    }

    /// The inverse of ``wrap(_:to:ephemeral:context:)``; throws on a wrong key or any change.
    public static func unwrap(_ wrapped: [UInt8], with key: PrivateKey, ephemeralPublicKey: [UInt8], context: String) throws(BackupError) -> SymmetricKey {
        do {
            let kek = try keyEncryptionKey(
                secret: key.key.sharedSecret(with: ephemeralPublicKey), ephemeral: ephemeralPublicKey, recipient: key.publicKey, context: context
            )
            return try SymmetricKey(bytes: AESGCM.open(wrapped, using: kek, authenticating: Array(context.utf8)))
        } catch {
            throw BackupError("the recovery key does not open this backup (wrong key, or the manifest was altered)")
        }
    }

    private static func keyEncryptionKey(secret: [UInt8], ephemeral: [UInt8], recipient: PublicKey, context: String) throws -> SymmetricKey {
        try SymmetricKey(bytes: HKDF.sha256(
            key: secret, salt: ephemeral + recipient.rawRepresentation, info: Array(("bastion/backup/v1/recovery/" + context).utf8),
            outputByteCount: SymmetricKey.byteCount
        ))
    }
}
