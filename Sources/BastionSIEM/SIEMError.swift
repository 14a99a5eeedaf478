/// The one error type of BastionSIEM (STYLE rule 8): a stable code to match on, plus a detail
/// that names the receiver's address and the reason, written for an operator's log line
/// (`connect to siem.example:6514 failed: Connection refused`).
///
/// Equality is on the code only: the detail is diagnostic, not identity.
public struct SIEMError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A sink setting that can never work (bad address, SD-ID, event glob, TLS file).
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// Name resolution, TCP connect or its timeout failed: the receiver is unreachable.
        public static let connectionFailed = Code("connectionFailed")
        /// The TLS handshake failed: certificate verification, hostname, protocol.
        public static let tlsHandshakeFailed = Code("tlsHandshakeFailed")
        /// Writing to an established connection failed, or the receiver closed it.
        public static let sendFailed = Code("sendFailed")
        /// `send` was called without a connection (never connected, or closed after an error).
        public static let notConnected = Code("notConnected")
    }

    public let code: Code
    /// Address and reason, for logs and `siem status`.
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { detail }

    public static func == (lhs: SIEMError, rhs: SIEMError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
