public import BastionCore

/// A failure to reach or use a target host. Errors compare equal by code (STYLE.md rule 8);
/// the detail is for the audit log and the operator, never for the engineer's terminal.
public struct UpstreamError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        public var description: String { name }
        /// TCP connect, name resolution or key exchange failed (or timed out).
        public static let unreachable = Code(name: "unreachable")
        /// The target presented a host key other than the pinned one; `detail` is the
        /// presented key's SHA256 fingerprint.
        public static let hostKeyMismatch = Code(name: "hostKeyMismatch")
        /// The target refused the per-session certificate (or it could not be made).
        public static let authenticationFailed = Code(name: "authenticationFailed")
        /// Opening or using a channel on an authenticated session failed.
        public static let channelFailed = Code(name: "channelFailed")
    }

    public var code: Code
    public var detail: String
    /// For `hostKeyMismatch`: the key the target presented.
    public var presentedHostKey: SSHPublicKey?

    public init(_ code: Code, _ detail: String, presentedHostKey: SSHPublicKey? = nil) {
        self.code = code
        self.detail = detail
        self.presentedHostKey = presentedHostKey
    }

    public var description: String { "upstream \(code): \(detail)" }

    public static func == (lhs: UpstreamError, rhs: UpstreamError) -> Bool { lhs.code == rhs.code }
}
