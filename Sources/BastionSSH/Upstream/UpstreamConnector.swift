public import BastionCore
import CLibSSH
public import Foundation

/// Connects Bastion to a target host as a libssh client: pinned host key, then a per-session
/// key with a certificate from Bastion's upstream CA (targets trust only that CA).
///
/// Blocking (TCP connect, key exchange, two authentication round trips): call it on the
/// connection's own thread, never on Swift's cooperative pool (STYLE.md rule 2).
public enum UpstreamConnector {
    /// Connects, checks the pinned host key, authenticates with a fresh key and certificate.
    ///
    /// - Throws: `.unreachable` (connect or key exchange failed), `.hostKeyMismatch` (the
    ///   target presented another key; nothing was sent to it after key exchange),
    ///   `.authenticationFailed` (the target refused the certificate).
    public static func connect(
        _ request: UpstreamRequest, authority: CertificateAuthority, now: Date
    ) throws(UpstreamError) -> UpstreamSession {
        let connected = try UpstreamTransport.open(
            host: request.host, port: request.port, login: request.login,
            hostKeyAlgorithms: UpstreamTransport.hostKeyAlgorithms(for: request.pinnedHostKey), algorithms: request.algorithms,
            timeout: request.connectTimeout
        )
        let session = connected.session
        do throws(UpstreamError) {
            // No trust on first use and no known_hosts: the configured pin is the only
            // acceptable key. Checked before any authentication, so a man in the middle never
            // sees even the certificate.
            guard connected.hostKeyBlob == request.pinnedHostKey.blob else {
                throw UpstreamError(
                    .hostKeyMismatch, connected.hostKeyFingerprint,
                    presentedHostKey: try? SSHPublicKey(blob: connected.hostKeyBlob)
                )
            }
            let credential = try UpstreamCredential(for: request, authority: authority, now: now)
            try authenticate(session, with: credential, login: request.login)
            return UpstreamSession(session: session, certificate: credential.certificate, hostKey: request.pinnedHostKey)
        } catch {
            ssh_disconnect(session)
            ssh_free(session)
            throw error
        }
    }

    /// Offers the certificate, then signs with the key (RFC 4252 §7: query first, so a target
    /// that refuses the certificate costs no signature).
    private static func authenticate(
        _ session: OpaquePointer, with credential: borrowing UpstreamCredential, login: String
    ) throws(UpstreamError) {
        let offered = ssh_userauth_try_publickey(session, nil, credential.certificateKey)
        guard offered == LibSSH.authSuccess else {
            throw UpstreamError(.authenticationFailed, "target refused the certificate for \(login): \(outcome(offered, session))")
        }
        let signed = ssh_userauth_publickey(session, nil, credential.privateKey)
        guard signed == LibSSH.authSuccess else {
            throw UpstreamError(.authenticationFailed, "target refused the signature for \(login): \(outcome(signed, session))")
        }
    }

    private static func outcome(_ code: Int32, _ session: OpaquePointer) -> String {
        switch code {
        case LibSSH.authDenied: "denied"
        case LibSSH.authPartial: "partial success (the target wants another factor)"
        default: LibSSH.errorText(session)
        }
    }
}
