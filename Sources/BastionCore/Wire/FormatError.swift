/// Why bytes or text could not be read as an SSH wire value, key, certificate or TOTP
/// secret.
///
/// Shaped like STYLE rule 8 (a stable code, a private detail for logs, equality on the
/// code). It covers the parsers of Wire/, Keys/, Certificates/ and TOTP/, which all fail
/// the same way: the input is not what the format allows.
public struct FormatError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong with the input, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The input ended inside a field.
        public static let truncated = Code("truncated")
        /// Bytes follow the last field; strict parsing refuses them (no smuggled data).
        public static let trailingBytes = Code("trailingBytes")
        /// A field's value breaks the format (bad length, bad UTF-8, negative mpint, ...).
        public static let invalidField = Code("invalidField")
        /// Base64 or Base32 text that does not decode.
        public static let invalidEncoding = Code("invalidEncoding")
        /// A key or certificate type Bastion does not handle.
        public static let unsupportedType = Code("unsupportedType")
        /// The type named outside a blob differs from the one inside it.
        public static let typeMismatch = Code("typeMismatch")
        /// A certificate where a plain key is expected, or the reverse.
        public static let wrongKind = Code("wrongKind")
        /// A private key file that is encrypted, or of another key type.
        public static let unsupportedPrivateKey = Code("unsupportedPrivateKey")
        /// The key material did not pass the cryptographic library's checks.
        public static let invalidKey = Code("invalidKey")
        /// A certificate request that cannot be signed as given.
        public static let invalidRequest = Code("invalidRequest")
    }

    public let code: Code
    private let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "FormatError.\(code): \(detail)" }

    public static func == (lhs: FormatError, rhs: FormatError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
