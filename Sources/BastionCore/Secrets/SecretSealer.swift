public import BastionCrypto

/// Seals secrets at rest (TOTP seeds) with AES-256-GCM under the master key.
///
/// The master key lives in a 0600 file outside the database, so a leaked database or
/// backup holds no usable secret (THREATS.md "database copy leaked"). Each ciphertext is
/// bound to its purpose and owner through the AAD, so swapping two users' sealed seeds
/// in the database makes both fail to open rather than silently trading factors.
public struct SecretSealer: Sendable {
    private let key: SymmetricKey

    public init(masterKey: SymmetricKey) {
        self.key = masterKey
    }

    public func sealTOTPSecret(_ secret: TOTPSecret, for user: UserName) throws -> [UInt8] {
        try AESGCM.seal(secret.bytes, using: key, authenticating: Self.totpContext(user))
    }

    public func openTOTPSecret(_ sealed: [UInt8], for user: UserName) throws -> TOTPSecret {
        TOTPSecret(bytes: try AESGCM.open(sealed, using: key, authenticating: Self.totpContext(user)))
    }

    /// A 32-byte key for one `purpose` (approval links, target tokens), derived from the
    /// master key with HMAC-SHA256, so no further secret needs a file or a backup of its own.
    public func derivedKey(purpose: String) -> [UInt8] {
        HMAC.sha256(key: key.bytes, message: Array("bastion/derive/v1/\(purpose)".utf8))
    }

    private static func totpContext(_ user: UserName) -> [UInt8] {
        Array("bastion/totp/v1/\(user.rawValue)".utf8)
    }
}
