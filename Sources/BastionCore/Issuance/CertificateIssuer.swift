public import Foundation
public import BastionCrypto

/// Mints engineers' short-lived user certificates (DESIGN.md flow 1).
///
/// A certificate is returned only after it is in the ledger and its `cert.issue` record
/// is in the audit log: no record, no certificate.
public struct CertificateIssuer: Sendable {
    public struct Settings: Sendable {
        public var defaultTTL: TimeInterval
        /// Add the `source-address` critical option with the client's address.
        public var bindSourceAddress: Bool
        /// Backdating of `valid_after`, to tolerate clients whose clocks run slightly behind.
        public var backdate: TimeInterval

        public init(defaultTTL: TimeInterval = 4 * 3600, bindSourceAddress: Bool = false, backdate: TimeInterval = 30) {
            self.defaultTTL = defaultTTL
            self.bindSourceAddress = bindSourceAddress
            self.backdate = backdate
        }
    }

    public enum Outcome: Sendable {
        /// `note` is for the user (e.g. the requested TTL was shortened).
        case issued(SSHCertificate, note: String?)
        /// `message` is for the user; the audit record carries the same reason.
        case refused(message: String)
    }

    private let authority: CertificateAuthority
    private let ledger: any CertificateLedger
    private let audit: any AuditEmitter
    private let policySource: any PolicySource
    /// As the file says now (a reload may replace it between two calls).
    private var policy: Policy { policySource.current }
    private let settings: Settings
    private let clock: any WallClock
    private let makeSerial: @Sendable () -> UInt64

    public init(
        authority: CertificateAuthority, ledger: any CertificateLedger, audit: any AuditEmitter, policy: any PolicySource,
        settings: Settings, clock: any WallClock, makeSerial: @escaping @Sendable () -> UInt64 = { SecureRandom.uint64() }
    ) {
        self.authority = authority
        self.ledger = ledger
        self.audit = audit
        self.policySource = policy
        self.settings = settings
        self.clock = clock
        self.makeSerial = makeSerial
    }

    /// Issues a certificate for the key `identity` authenticated with.
    /// - Parameter requestedTTL: `cert --ttl`; may shorten, never lengthen, what the roles allow.
    public func issue(for identity: AuthenticatedIdentity, requestedTTL: TimeInterval?) -> Outcome {
        let now = clock.now()
        func refuse(_ message: String) -> Outcome {
            try? audit.append(AuditEvent(
                type: .certRefused, time: now, outcome: .failure, actor: identity.auditActor,
                connection: identity.connection.auditConnection(sshUsername: identity.user.name.rawValue), reason: message
            ))
            return .refused(message: message)
        }
        guard case .keyAndTOTP(let key) = identity.method else {
            return refuse("a certificate cannot renew itself: log in with your enrolled key and a TOTP code to get a new one")
        }
        guard let cap = policy.certificateTTLCap(forRoles: identity.user.roles) else {
            return refuse("no role of \(identity.user.name) allows certificates")
        }
        if let requestedTTL, requestedTTL <= 0 { return refuse("--ttl must be positive") }
        let wanted = requestedTTL ?? settings.defaultTTL
        let ttl = min(wanted, cap)
        let note = requestedTTL.map { $0 > cap ? "requested \(DurationText.format($0)), your roles allow at most \(DurationText.format(cap)): issued for \(DurationText.format(cap))" : nil } ?? nil

        let serial = makeSerial()
        let validAfter = now.addingTimeInterval(-settings.backdate)
        let validBefore = now.addingTimeInterval(ttl)
        let keyID = "user=\(identity.user.name) serial=\(serial) source=\(identity.connection.remoteAddress)"
        var criticalOptions: [String: String] = [:]
        if settings.bindSourceAddress { criticalOptions["source-address"] = identity.connection.remoteAddress }
        let request = CertificateRequest(
            publicKey: key, serial: serial, keyID: keyID, principals: [identity.user.name.rawValue],
            validAfter: validAfter, validBefore: validBefore, criticalOptions: criticalOptions,
            extensions: policy.certificateExtensions(forRoles: identity.user.roles)
        )
        do {
            let certificate = try authority.issue(request)
            try ledger.record(IssuedCertificate(
                serial: serial, user: identity.user.name, keyFingerprint: key.fingerprint, keyID: keyID,
                validAfter: validAfter, validBefore: validBefore, sourceAddress: identity.connection.remoteAddress, issuedAt: now
            ))
            try audit.append(AuditEvent(
                type: .certIssue, time: now, actor: identity.auditActor,
                connection: identity.connection.auditConnection(sshUsername: identity.user.name.rawValue),
                details: [
                    "serial": String(serial), "key_id": keyID, "fingerprint": key.fingerprint,
                    "valid_after": String(certificate.validAfter), "valid_before": String(certificate.validBefore),
                    "principals": identity.user.name.rawValue, "type": certificate.certificateType,
                ]
            ))
            return .issued(certificate, note: note)
        } catch {
            return .refused(message: "certificate could not be issued (internal failure)")
        }
    }
}
