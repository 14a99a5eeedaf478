public import Foundation

/// The knobs of authentication, from the `[auth]` config section.
public struct AuthenticationSettings: Sendable {
    /// Time steps accepted either side of now (RFC 6238 §5.2); 0 or 1.
    public var totpSkewSteps: Int
    /// Consecutive wrong codes that trigger a lockout.
    public var maxFailures: Int
    /// How long a lockout lasts.
    public var lockout: TimeInterval
    /// The longest certificate validity Bastion will ever accept, whatever the signature says.
    public var maximumCertificateValidity: TimeInterval

    public init(totpSkewSteps: Int = 1, maxFailures: Int = 5, lockout: TimeInterval = 15 * 60, maximumCertificateValidity: TimeInterval = 24 * 3600 + 60) {
        self.totpSkewSteps = totpSkewSteps
        self.maxFailures = maxFailures
        self.lockout = lockout
        self.maximumCertificateValidity = maximumCertificateValidity
    }
}
