import Foundation

/// Decides every login: enrolled key then TOTP, or a Bastion-issued certificate.
///
/// Synchronous and thread-safe (it holds no mutable state; the stores are atomic), so the
/// SSH threads call it directly (DESIGN.md: "domain services are synchronous"). Every
/// denial is audited with its reason; the caller tells the peer only "denied".
public struct Authenticator: Sendable {
    public enum KeyDecision: Sendable {
        /// The key is acceptable; the client may sign with it (answer to a probe). A
        /// certificate comes back verified, for the signed request that follows.
        case acceptable(VerifiedCertificate?)
        /// Signed with an enrolled key: ask for the TOTP code next.
        case needsTOTP(PendingLogin)
        /// Signed with a valid certificate: authenticated.
        case authenticated(AuthenticatedIdentity)
        case denied(AuthenticationDenial)
    }

    public enum CodeDecision: Sendable {
        case authenticated(AuthenticatedIdentity)
        case denied(AuthenticationDenial)
    }

    /// A certificate that passed every check on a probe. OpenSSH asks whether a key would do,
    /// then signs with it: the signed request for the same certificate and username on the
    /// same connection repeats only the checks whose answer can change in between (the clock,
    /// the account), not the ledger read and the CA's signature.
    public struct VerifiedCertificate: Sendable {
        fileprivate let certificate: SSHCertificate
        fileprivate let user: UserName
        fileprivate let username: String
    }

    /// The first factor passed; the second is owed.
    public struct PendingLogin: Sendable {
        public var user: UserName
        public var key: SSHPublicKey
        public var request: SSHUsername
    }

    private let users: any UserStore
    private let ledger: any CertificateLedger
    private let audit: any AuditEmitter
    private let sealer: SecretSealer
    private let clock: any WallClock
    private let settings: AuthenticationSettings
    private let certificateVerifier: CertificateVerifier
    private let reportFailure: @Sendable (String) -> Void

    public init(
        users: any UserStore, ledger: any CertificateLedger, audit: any AuditEmitter, sealer: SecretSealer,
        clock: any WallClock, settings: AuthenticationSettings, userAuthority: SSHPublicKey,
        reportFailure: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.init(
            users: users, ledger: ledger, audit: audit, sealer: sealer, clock: clock, settings: settings,
            userAuthorities: [.init(key: userAuthority)], reportFailure: reportFailure
        )
    }

    /// `userAuthorities`: the user CA's keys, two during a rotation's overlap.
    public init(
        users: any UserStore, ledger: any CertificateLedger, audit: any AuditEmitter, sealer: SecretSealer,
        clock: any WallClock, settings: AuthenticationSettings, userAuthorities: [CertificateVerifier.TrustedAuthority],
        reportFailure: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.users = users
        self.ledger = ledger
        self.audit = audit
        self.sealer = sealer
        self.clock = clock
        self.settings = settings
        self.certificateVerifier = CertificateVerifier(trusted: userAuthorities, maximumValidity: settings.maximumCertificateValidity)
        self.reportFailure = reportFailure
    }

    /// Evaluates a publickey request. `signed` is false for a probe ("would you accept
    /// this key?") and true once the SSH engine verified the client's signature; `probed` is
    /// what this connection's probe answered, if it verified a certificate. `requiredUser`: the
    /// only user who may log in (the outer user of an `ssh -J` jump); anyone else is denied.
    public func evaluateKey(
        _ offered: OfferedKey?, username: String, signed: Bool, connection: ConnectionContext, probed: VerifiedCertificate? = nil,
        requiredUser: UserName? = nil
    ) -> KeyDecision {
        let now = clock.now()
        func deny(_ reason: AuthenticationDenial, fingerprint: String?, user: String? = nil) -> KeyDecision {
            recordDenial(reason, user: user ?? username, fingerprint: fingerprint, connection: connection, sshUsername: username, now: now)
            return .denied(reason)
        }
        guard let offered else { return deny(.unsupportedKey, fingerprint: nil) }
        guard let request = SSHUsername(username) else {
            return deny(.invalidUsername, fingerprint: offered.fingerprint)
        }
        do {
            switch offered {
            case .plain(let key):
                if case .rsa(let bits) = key.kind, bits < 3072 {
                    return deny(.weakKey(bits: bits), fingerprint: key.fingerprint)
                }
                // `alice` names the user; `root@web01` does not, so the key's owner is the user.
                let name: UserName
                switch request {
                case .bastion(let named): name = named
                case .target:
                    guard let owner = try users.owner(of: key) else { return deny(.keyNotEnrolled, fingerprint: key.fingerprint) }
                    name = owner
                }
                if let requiredUser, name != requiredUser {
                    return deny(.notTheJumpUser(outer: requiredUser.rawValue), fingerprint: key.fingerprint, user: name.rawValue)
                }
                guard let user = try users.user(named: name) else {
                    return deny(.unknownUser, fingerprint: key.fingerprint)
                }
                if let refusal = try accountRefusal(user, now: now) { return deny(refusal, fingerprint: key.fingerprint, user: name.rawValue) }
                guard try users.keys(of: name).contains(key) else {
                    if let owner = try users.owner(of: key) {
                        return deny(.keyOwnedByAnotherUser(owner: owner.rawValue), fingerprint: key.fingerprint)
                    }
                    return deny(.keyNotEnrolled, fingerprint: key.fingerprint)
                }
                guard signed else { return .acceptable(nil) }
                try audit.append(AuditEvent(
                    type: .authKeyAccepted, time: now,
                    actor: .init(user: name.rawValue, method: "publickey", keyFingerprint: key.fingerprint),
                    connection: connection.auditConnection(sshUsername: username), details: connection.auditDetails()
                ))
                return .needsTOTP(PendingLogin(user: name, key: key, request: request))

            case .certificate(let certificate):
                let fingerprint = certificate.publicKey.fingerprint
                let name: UserName
                if let probed, probed.username == username, probed.certificate.blob == certificate.blob {
                    do { try certificateVerifier.checkValidityWindow(certificate, now: now) } catch {
                        return deny(.certificateRejected(error), fingerprint: fingerprint)
                    }
                    name = probed.user
                } else {
                    switch verifyCertificate(certificate, fingerprint: fingerprint, request: request, connection: connection, now: now) {
                    case .issuedTo(let verified): name = verified
                    case .refused(let reason): return deny(reason, fingerprint: fingerprint)
                    }
                }
                if let requiredUser, name != requiredUser {
                    return deny(.notTheJumpUser(outer: requiredUser.rawValue), fingerprint: fingerprint, user: name.rawValue)
                }
                guard let user = try users.user(named: name) else {
                    return deny(.unknownUser, fingerprint: fingerprint)
                }
                if let refusal = try accountRefusal(user, now: now) { return deny(refusal, fingerprint: fingerprint) }
                guard signed else { return .acceptable(VerifiedCertificate(certificate: certificate, user: name, username: username)) }
                let identity = AuthenticatedIdentity(
                    user: user, method: .certificate(certificate), request: request, authenticatedAt: now, connection: connection
                )
                try audit.append(AuditEvent(
                    type: .authLogin, time: now, actor: identity.auditActor,
                    connection: connection.auditConnection(sshUsername: username),
                    details: connection.auditDetails(["certificate_valid_before": String(certificate.validBefore)])
                ))
                return .authenticated(identity)
            }
        } catch {
            return deny(failureDenial(error), fingerprint: offered.fingerprint)
        }
    }

    /// Checks the TOTP code answering the keyboard-interactive prompt.
    public func verifyCode(_ code: String, for pending: PendingLogin, connection: ConnectionContext) -> CodeDecision {
        let now = clock.now()
        let actor = AuditEvent.Actor(user: pending.user.rawValue, method: "publickey+totp", keyFingerprint: pending.key.fingerprint)
        func deny(_ reason: AuthenticationDenial) -> CodeDecision {
            recordDenial(reason, user: pending.user.rawValue, fingerprint: pending.key.fingerprint, connection: connection, sshUsername: pending.request.text, now: now)
            return .denied(reason)
        }
        do {
            // Re-read everything: the user may have been locked while typing.
            guard let user = try users.user(named: pending.user), let state = try users.totpState(of: pending.user) else {
                return deny(.unknownUser)
            }
            if let refusal = try accountRefusal(user, now: now) { return deny(refusal) }
            let totp = TOTP(secret: try sealer.openTOTPSecret(state.sealedSecret, for: pending.user))
            let step = totp.matchingStep(for: code, at: now, skewSteps: settings.totpSkewSteps, after: state.lastUsedStep)
            guard let step, try users.consumeTOTPStep(step, for: pending.user) else {
                let replayed = totp.matchingStep(for: code, at: now, skewSteps: settings.totpSkewSteps, after: nil) != nil
                let reason: AuthenticationDenial = replayed ? .replayedCode : .wrongCode
                let updated = try users.recordTOTPFailure(
                    for: pending.user, now: now, maxFailures: settings.maxFailures, lockout: settings.lockout
                )
                let denial = deny(reason)
                if let until = updated.lockedUntil, updated.consecutiveFailures >= settings.maxFailures, until > now {
                    try? audit.append(AuditEvent(
                        type: .authLockout, time: now, outcome: .failure, actor: actor,
                        connection: connection.auditConnection(sshUsername: pending.request.text),
                        reason: "\(updated.consecutiveFailures) consecutive TOTP failures",
                        details: connection.auditDetails(["locked_until": String(Int(until.timeIntervalSince1970))])
                    ))
                }
                return denial
            }
            let identity = AuthenticatedIdentity(
                user: user, method: .keyAndTOTP(key: pending.key), request: pending.request, authenticatedAt: now, connection: connection
            )
            try audit.append(AuditEvent(
                type: .authLogin, time: now, actor: identity.auditActor,
                connection: connection.auditConnection(sshUsername: pending.request.text), details: connection.auditDetails()
            ))
            return .authenticated(identity)
        } catch {
            return deny(failureDenial(error))
        }
    }

    /// Audits an attempt with a method Bastion never accepts first (password, a
    /// keyboard-interactive attempt before any key, …).
    public func refuseMethod(_ method: String, username: String, connection: ConnectionContext) {
        recordDenial(.methodNotAllowed(method), user: username, fingerprint: nil, connection: connection, sshUsername: username, now: clock.now())
    }

    // MARK: - Helpers

    private enum CertificateCheck {
        case issuedTo(UserName)
        case refused(AuthenticationDenial)
    }

    /// Every check of a certificate that does not change with time alone: issued by Bastion
    /// (the ledger) to the user it names, signed by the user CA, for this principal and
    /// source address. Returns the user it was issued to.
    private func verifyCertificate(
        _ certificate: SSHCertificate, fingerprint: String, request: SSHUsername, connection: ConnectionContext, now: Date
    ) -> CertificateCheck {
        do {
            // For `root@web01` the user is whoever Bastion issued this certificate to.
            let name: UserName
            let issued: IssuedCertificate?
            switch request {
            case .bastion(let named):
                name = named
                issued = nil
            case .target:
                guard let entry = try ledger.certificate(serial: certificate.serial) else { return .refused(.certificateNotIssuedByBastion) }
                name = entry.user
                issued = entry
            }
            do {
                try certificateVerifier.verify(certificate, principal: name.rawValue, clientAddress: connection.remoteAddress, now: now)
            } catch {
                return .refused(.certificateRejected(error))
            }
            guard let entry = try issued ?? ledger.certificate(serial: certificate.serial),
                entry.user == name, entry.keyFingerprint == fingerprint
            else {
                return .refused(.certificateNotIssuedByBastion)
            }
            return .issuedTo(name)
        } catch {
            return .refused(failureDenial(error))
        }
    }

    private func accountRefusal(_ user: User, now: Date) throws -> AuthenticationDenial? {
        if user.isLocked { return .userLocked }
        if let until = try users.totpState(of: user.name)?.lockedUntil, until > now { return .lockedOut }
        return nil
    }

    private func failureDenial(_ error: any Error) -> AuthenticationDenial {
        reportFailure("authentication failed closed: \(error)")
        return .internalFailure
    }

    private func recordDenial(
        _ reason: AuthenticationDenial, user: String, fingerprint: String?, connection: ConnectionContext, sshUsername: String, now: Date
    ) {
        do {
            try audit.append(AuditEvent(
                type: .authFailed, time: now, outcome: .failure,
                actor: .init(user: user, keyFingerprint: fingerprint),
                connection: connection.auditConnection(sshUsername: sshUsername),
                reason: reason.description, details: connection.auditDetails()
            ))
        } catch {
            // The login is refused anyway; make the gap in the record loud.
            reportFailure("could not audit a refused login (\(reason)): \(error)")
        }
    }
}

extension OfferedKey {
    var fingerprint: String {
        switch self {
        case .plain(let key): key.fingerprint
        case .certificate(let certificate): certificate.publicKey.fingerprint
        }
    }
}
