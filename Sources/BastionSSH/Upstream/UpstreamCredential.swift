import BastionCore
import BastionCrypto
import CLibSSH
import Foundation

/// A fresh Ed25519 key and the upstream-CA certificate minted for it, for one session.
///
/// The private key lives only in libssh's memory for the few seconds of authentication and
/// is freed with this value (it is noncopyable so that exactly one owner frees it): nothing
/// reusable is left behind, and the certificate expires minutes later.
struct UpstreamCredential: ~Copyable {
    /// How long before "now" the certificate is valid, for targets whose clocks run behind.
    static let clockSkewAllowance: TimeInterval = 30
    /// How long after "now" the certificate is valid: long enough to authenticate, too short
    /// to be worth stealing. Authentication happens once, right after minting.
    static let lifetime: TimeInterval = 120

    /// The private key with the certificate attached (what `ssh_userauth_publickey` signs with).
    let privateKey: ssh_key
    /// The certificate alone, as a libssh public key (what `ssh_userauth_try_publickey` offers).
    let certificateKey: ssh_key
    let certificate: SSHCertificate

    /// `bastion session=<id> user=<user> login=<login>`: what sshd logs as "certificate ID",
    /// so a target's log line leads back to the Bastion session.
    static func keyID(for request: UpstreamRequest) -> String {
        "bastion session=\(request.sessionID) user=\(request.user) login=\(request.login)"
    }

    /// Generates the key, has `authority` sign it for `request.login`, and loads both into libssh.
    init(for request: UpstreamRequest, authority: CertificateAuthority, now: Date) throws(UpstreamError) {
        var generated: ssh_key?
        guard ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &generated) == SSH_OK, let privateKey = generated else {
            throw UpstreamError(.authenticationFailed, "cannot generate the session key")
        }
        do throws(UpstreamError) {
            guard let publicBlob = LibSSH.blob(of: privateKey) else {
                throw UpstreamError(.authenticationFailed, "cannot export the session key")
            }
            let certificate: SSHCertificate
            do {
                certificate = try authority.issue(CertificateRequest(
                    publicKey: try SSHPublicKey(blob: publicBlob),
                    serial: SecureRandom.uint64(),
                    keyID: Self.keyID(for: request),
                    principals: [request.login],
                    validAfter: now.addingTimeInterval(-Self.clockSkewAllowance),
                    validBefore: now.addingTimeInterval(Self.lifetime),
                    // A relayed session needs a terminal; it never needs the target to forward
                    // agents, ports or X11 back through Bastion.
                    extensions: ["permit-pty"]
                ))
            } catch {
                throw UpstreamError(.authenticationFailed, "cannot mint the session certificate: \(error)")
            }
            var imported: ssh_key?
            let base64 = Data(certificate.blob).base64EncodedString()
            guard ssh_pki_import_cert_base64(base64, SSH_KEYTYPE_ED25519_CERT01, &imported) == SSH_OK,
                  let certificateKey = imported
            else {
                throw UpstreamError(.authenticationFailed, "libssh cannot read the session certificate")
            }
            guard ssh_pki_copy_cert_to_privkey(certificateKey, privateKey) == SSH_OK else {
                ssh_key_free(certificateKey)
                throw UpstreamError(.authenticationFailed, "libssh cannot attach the certificate to the session key")
            }
            self.privateKey = privateKey
            self.certificateKey = certificateKey
            self.certificate = certificate
        } catch {
            ssh_key_free(privateKey)
            throw error
        }
    }

    deinit {
        ssh_key_free(certificateKey)
        ssh_key_free(privateKey)
    }
}
