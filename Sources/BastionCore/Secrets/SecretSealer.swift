public import BastionCrypto

/// Seals secrets at rest (TOTP seeds) by envelope encryption under the master key, and
/// derives the keys of approval links and target tokens.
///
/// The master key lives outside the database (a 0600 file, or an HSM), so a leaked database
/// or backup holds no usable secret (THREATS.md "database copy leaked"). Each ciphertext is
/// bound to its purpose and owner, so swapping two users' sealed seeds in the database makes
/// both fail to open rather than silently trading factors.
public struct SecretSealer: Sendable {
    private let keyring: MasterKeyring
    /// The secret the derived keys come from. With the `file` provider it is the master key's
    /// own bytes (as before envelopes existed, so links and target tokens keep working); with
    /// an HSM, whose master key never leaves it, a 32-byte key kept wrapped on disk.
    private let derivationRoot: [UInt8]
    /// Seeds sealed before envelopes: a bare AES-GCM box under the `file` master key.
    private let legacyKey: SymmetricKey?

    public init(keyring: MasterKeyring, derivationRoot: [UInt8], legacyKey: SymmetricKey? = nil) {
        self.keyring = keyring
        self.derivationRoot = derivationRoot
        self.legacyKey = legacyKey
    }

    /// The `file` provider's sealer: one master key, in memory.
    public init(masterKey: SymmetricKey) {
        self.init(keyring: MasterKeyring(current: SoftwareMasterKey(key: masterKey)), derivationRoot: masterKey.bytes, legacyKey: masterKey)
    }

    public func sealTOTPSecret(_ secret: TOTPSecret, for user: UserName) throws -> [UInt8] {
        try Envelope.seal(secret.bytes, keyring: keyring, context: Self.totpContext(user))
    }

    public func openTOTPSecret(_ sealed: [UInt8], for user: UserName) throws -> TOTPSecret {
        var envelopeError: (any Error)?
        if Envelope.isEnvelope(sealed) {
            do { return TOTPSecret(bytes: try Envelope.open(sealed, keyring: keyring, context: Self.totpContext(user))) } catch {
                envelopeError = error
            }
        }
        // A bare box whose random nonce happens to begin with the envelope's magic is tried too.
        guard let legacyKey else { throw envelopeError ?? EnvelopeError("a TOTP seed sealed without an envelope needs the file master key") }
        do {
            return TOTPSecret(bytes: try AESGCM.open(sealed, using: legacyKey, authenticating: Self.totpContext(user)))
        } catch {
            throw envelopeError ?? error
        }
    }

    /// `sealed` (a TOTP seed) with its data key re-wrapped under the current master key
    /// version; a seed from before envelopes becomes one. Nil when it is current already.
    public func resealTOTPSecret(_ sealed: [UInt8], for user: UserName) throws -> [UInt8]? {
        if Envelope.isEnvelope(sealed), let parts = try? Envelope.parse(sealed) {
            guard parts.version != keyring.current.version else { return nil }
            if let rewrapped = try? Envelope.rewrap(sealed, keyring: keyring, context: Self.totpContext(user)) { return rewrapped }
        }
        return try sealTOTPSecret(try openTOTPSecret(sealed, for: user), for: user)
    }

    /// The master key version a sealed seed needs (1 for a seed from before envelopes).
    public static func masterKeyVersion(ofSealed sealed: [UInt8]) -> UInt32 {
        (try? Envelope.parse(sealed).version) ?? 1
    }

    /// A 32-byte key for one `purpose` (approval links, target tokens), derived with
    /// HMAC-SHA256, so no further secret needs a file or a backup of its own.
    public func derivedKey(purpose: String) -> [UInt8] {
        HMAC.sha256(key: derivationRoot, message: Array("bastion/derive/v1/\(purpose)".utf8))
    }

    private static func totpContext(_ user: UserName) -> [UInt8] {
        Array("bastion/totp/v1/\(user.rawValue)".utf8)
    }
}
