/// A 256-bit secret key for AES-256-GCM (the master key that seals TOTP seeds at rest).
public struct SymmetricKey: Sendable, CustomStringConvertible {
    /// The key length in bytes: AES-256 only, so there is no key-size choice to get wrong.
    public static let byteCount = 32

    /// The raw key. Handle with care: this is the secret.
    public let bytes: [UInt8]

    /// Wraps existing key material (for example the master key read from its file).
    public init(bytes: [UInt8]) throws(CryptoError) {
        guard bytes.count == Self.byteCount else {
            throw CryptoError(.invalidKey, "AES-256 key must be 32 bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    private init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// A fresh key from `RAND_bytes`.
    public static func random() -> SymmetricKey {
        SymmetricKey(unchecked: SecureRandom.bytes(byteCount))
    }

    /// Never prints the key.
    public var description: String { "SymmetricKey(redacted)" }
}
