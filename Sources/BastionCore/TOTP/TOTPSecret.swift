import BastionCrypto

/// The shared secret of RFC 6238 TOTP (the "K" of RFC 4226 §5.1).
///
/// `description` never shows the bytes, so a secret that reaches a log line leaks nothing.
/// Deliberately not `Equatable`: comparing secrets with `==` would not be constant-time.
public struct TOTPSecret: Sendable, CustomStringConvertible {
    /// The recommended secret size: 160 bits, the HMAC-SHA1 output size (RFC 4226 §4 R6).
    public static let recommendedByteCount = 20

    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// A fresh 160-bit secret from the system CSPRNG.
    public static func random() -> TOTPSecret {
        TOTPSecret(bytes: SecureRandom.bytes(recommendedByteCount))
    }

    /// Reads a secret as typed or pasted from an authenticator app (Base32, any case,
    /// spaces allowed). An empty secret is refused: it would make every code guessable.
    public init(base32: String) throws(FormatError) {
        let bytes = try Base32.decode(base32)
        guard !bytes.isEmpty else { throw FormatError(.invalidEncoding, "empty TOTP secret") }
        self.bytes = bytes
    }

    /// RFC 4648 Base32, uppercase, no padding: what authenticator apps expect.
    public var base32: String { Base32.encode(bytes) }

    public var description: String { "TOTPSecret(redacted)" }
}
