public import Foundation

/// Who is on the other end of a connection, once authentication finished.
///
/// Identity comes only from the authenticated key or certificate, never from anything
/// the user types later.
public struct AuthenticatedIdentity: Sendable {
    public var user: User
    public var method: Method
    /// What the SSH username asked for: Bastion itself, or a session as LOGIN@TARGET.
    public var request: SSHUsername
    public var authenticatedAt: Date
    public var connection: ConnectionContext

    public enum Method: Sendable {
        /// Enrolled key, then a fresh TOTP code.
        case keyAndTOTP(key: SSHPublicKey)
        /// A Bastion-issued certificate, still valid.
        case certificate(SSHCertificate)
    }

    public init(user: User, method: Method, request: SSHUsername, authenticatedAt: Date, connection: ConnectionContext) {
        self.user = user
        self.method = method
        self.request = request
        self.authenticatedAt = authenticatedAt
        self.connection = connection
    }

    /// The name used in audit records for the method.
    public var methodName: String {
        switch method {
        case .keyAndTOTP: "publickey+totp"
        case .certificate: "certificate"
        }
    }

    var auditActor: AuditEvent.Actor {
        switch method {
        case .keyAndTOTP(let key):
            AuditEvent.Actor(user: user.name.rawValue, method: methodName, keyFingerprint: key.fingerprint)
        case .certificate(let certificate):
            AuditEvent.Actor(
                user: user.name.rawValue, method: methodName,
                keyFingerprint: certificate.publicKey.fingerprint, certificateSerial: String(certificate.serial)
            )
        }
    }
}
