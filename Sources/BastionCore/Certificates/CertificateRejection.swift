/// Why a certificate was not accepted for a login (STYLE rule 7: a value for the audit
/// log; the peer only learns that authentication failed).
public enum CertificateRejection: Error, Hashable, Sendable, CustomStringConvertible {
    /// The blob could not be parsed.
    case malformed
    /// A host certificate offered as a user credential.
    case notUserCertificate
    /// Signed by a key other than Bastion's user CA.
    case untrustedCA
    /// The trusted CA uses an algorithm this verifier does not check.
    case unsupportedSignatureAlgorithm(String)
    /// The CA signature does not verify over the certificate.
    case badSignature
    case notYetValid
    case expired
    /// Valid for longer than policy allows, or forever.
    case validityTooLong
    /// No principals: OpenSSH reads that as "any user", which Bastion never allows.
    case noPrincipals
    /// The requested user is not among the principals.
    case principalMismatch
    /// The client's address is outside the `source-address` list.
    case sourceAddressMismatch
    /// A critical option Bastion cannot honour; PROTOCOL.certkeys requires refusing the
    /// certificate rather than ignoring it.
    case unsupportedCriticalOption(String)

    public var description: String {
        switch self {
        case .malformed: "malformed certificate"
        case .notUserCertificate: "not a user certificate"
        case .untrustedCA: "signed by an untrusted CA"
        case .unsupportedSignatureAlgorithm(let algorithm): "unsupported CA algorithm \(algorithm)"
        case .badSignature: "bad CA signature"
        case .notYetValid: "certificate not yet valid"
        case .expired: "certificate expired"
        case .validityTooLong: "certificate validity longer than allowed"
        case .noPrincipals: "certificate has no principals"
        case .principalMismatch: "user not among the certificate's principals"
        case .sourceAddressMismatch: "client address not allowed by source-address"
        case .unsupportedCriticalOption(let name): "unsupported critical option \(name)"
        }
    }
}
