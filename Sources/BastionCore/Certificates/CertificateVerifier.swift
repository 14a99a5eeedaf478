public import Foundation
import BastionCrypto

/// Decides whether a user certificate lets `principal` log in, checking what sshd's
/// `auth2-pubkey.c` / `sshkey_cert_check_authority` checks, plus Bastion's own limits
/// (maximum validity, no "any principal" certificates, no `force-command`).
public struct CertificateVerifier: Sendable {
    /// The only CA whose certificates are accepted (Bastion's user CA).
    public let trustedAuthority: SSHPublicKey
    /// The longest validity window accepted, in seconds.
    public let maximumValidity: TimeInterval
    /// The CA's key as OpenSSL holds it, loaded once rather than per certificate.
    private let authorityKey: Ed25519PublicKey?

    public init(trustedAuthority: SSHPublicKey, maximumValidity: TimeInterval) {
        self.trustedAuthority = trustedAuthority
        self.maximumValidity = maximumValidity
        self.authorityKey = trustedAuthority.ed25519PublicKey
    }

    /// Throws the first reason, in a fixed order, to refuse the certificate; returns when
    /// every check passed.
    public func verify(_ certificate: SSHCertificate, principal: String, clientAddress: String, now: Date) throws(CertificateRejection) {
        guard certificate.kind == .user else { throw .notUserCertificate }
        // The CA key is public: comparing it in constant time would protect nothing.
        guard certificate.signatureKey.blob == trustedAuthority.blob else { throw .untrustedCA }
        guard let caKey = authorityKey else {
            throw .unsupportedSignatureAlgorithm(trustedAuthority.algorithm)
        }
        guard certificate.signatureAlgorithm == "ssh-ed25519",
              caKey.isValidSignature(certificate.signature, for: certificate.signedBytes)
        else { throw .badSignature }

        try checkValidityWindow(certificate, now: now)
        guard certificate.validBefore != UInt64.max,
              Double(certificate.validBefore - certificate.validAfter) <= maximumValidity
        else { throw .validityTooLong }

        guard !certificate.principals.isEmpty else { throw .noPrincipals }
        guard certificate.principals.contains(principal) else { throw .principalMismatch }

        for name in certificate.criticalOptions.keys.sorted() {
            switch name {
            case "source-address":
                guard let value = certificate.criticalOptions[name],
                      let list = try? CIDRList(value)
                else { throw .unsupportedCriticalOption(name) }
                guard list.contains(address: clientAddress) else { throw .sourceAddressMismatch }
            default:
                // Includes force-command: Bastion decides what runs, so a certificate that
                // expects a forced command cannot be honoured and must be refused.
                throw .unsupportedCriticalOption(name)
            }
        }
    }

    /// valid_after <= now < valid_before, in whole seconds (PROTOCOL.certkeys): the one check
    /// of ``verify(_:principal:clientAddress:now:)`` whose answer changes with time alone.
    public func checkValidityWindow(_ certificate: SSHCertificate, now: Date) throws(CertificateRejection) {
        let seconds = CertificateAuthority.seconds(now)
        guard seconds >= certificate.validAfter else { throw .notYetValid }
        guard seconds < certificate.validBefore else { throw .expired }
    }
}
