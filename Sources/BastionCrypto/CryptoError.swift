internal import COpenSSL

/// The one error type of BastionCrypto (STYLE rule 8): a stable code callers can match,
/// plus a detail (OpenSSL's own error queue text) meant for logs and the audit record.
///
/// Equality is on the code only, as in NIOSSHError: the detail is diagnostic, not identity.
public struct CryptoError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A key or seed of the wrong length or an encoding OpenSSL refused.
        public static let invalidKey = Code("invalidKey")
        /// Producing a signature failed inside OpenSSL.
        public static let signingFailed = Code("signingFailed")
        /// Encryption failed inside OpenSSL.
        public static let encryptionFailed = Code("encryptionFailed")
        /// The sealed box is too short, was tampered with, or the key or AAD is wrong.
        /// AES-GCM cannot tell these apart, and neither should the caller.
        public static let authenticationFailed = Code("authenticationFailed")
        /// A TLS certificate, key or CA file that cannot be used (missing, unreadable, not PEM,
        /// key not matching the certificate), or a setting OpenSSL refused.
        public static let tlsConfiguration = Code("tlsConfiguration")
        /// The peer's handshake failed: no common version or cipher suite, a certificate
        /// that did not verify, a malformed record.
        public static let tlsHandshakeFailed = Code("tlsHandshakeFailed")
        /// A TLS record after the handshake could not be read or written.
        public static let tlsFailed = Code("tlsFailed")
    }

    public let code: Code
    private let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    /// Builds an error and drains OpenSSL's thread-local error queue into the detail,
    /// so a later, unrelated failure never reports a stale OpenSSL reason.
    static func openSSL(_ code: Code, _ what: String) -> CryptoError {
        var reasons: [String] = []
        while true {
            let error = ERR_get_error()
            if error == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(error, &buffer, buffer.count)
            let text = buffer.withUnsafeBufferPointer { pointer -> String in
                guard let base = pointer.baseAddress else { return "" }
                return String(cString: base)
            }
            reasons.append(text)
        }
        if reasons.isEmpty { return CryptoError(code, what) }
        return CryptoError(code, what + ": " + reasons.joined(separator: "; "))
    }

    public var description: String { "CryptoError.\(code): \(detail)" }

    /// The detail alone, for a message that says its own context (a configuration error).
    public var reason: String { detail }

    public static func == (lhs: CryptoError, rhs: CryptoError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
