public import Foundation
import BastionCrypto

/// Decides whether a user certificate lets `principal` log in, checking what sshd's
/// `auth2-pubkey.c` / `sshkey_cert_check_authority` checks, plus Bastion's own limits
/// (maximum validity, no "any principal" certificates, no `force-command`).
public struct CertificateVerifier: Sendable {
    /// A CA key whose certificates are accepted, until `until` (the end of a rotation's overlap).
    public struct TrustedAuthority: Sendable {
        public let key: SSHPublicKey
        public let until: Date?
        /// The key as OpenSSL holds it, loaded once rather than per certificate.
        let loaded: Ed25519PublicKey?

        public init(key: SSHPublicKey, until: Date? = nil) {
            self.key = key
            self.until = until
            self.loaded = key.ed25519PublicKey
        }
    }

    /// The only CAs whose certificates are accepted (Bastion's user CA, two during a rotation).
    public let trusted: [TrustedAuthority]
    /// The longest validity window accepted, in seconds.
    public let maximumValidity: TimeInterval

    public init(trusted: [TrustedAuthority], maximumValidity: TimeInterval) {
        self.trusted = trusted
        self.maximumValidity = maximumValidity
    }

    public init(trustedAuthority: SSHPublicKey, maximumValidity: TimeInterval) {
        self.init(trusted: [TrustedAuthority(key: trustedAuthority)], maximumValidity: maximumValidity)
    }

    /// Throws the first reason, in a fixed order, to refuse the certificate; returns when
    /// every check passed.
    public func verify(_ certificate: SSHCertificate, principal: String, clientAddress: String, now: Date) throws(CertificateRejection) {
        guard certificate.kind == .user else { throw .notUserCertificate }
        // The CA key is public: comparing it in constant time would protect nothing.
        guard let authority = trusted.first(where: { $0.key.blob == certificate.signatureKey.blob }),
            authority.until.map({ now < $0 }) ?? true
        else { throw .untrustedCA }
        guard let caKey = authority.loaded else {
            throw .unsupportedSignatureAlgorithm(authority.key.algorithm)
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
