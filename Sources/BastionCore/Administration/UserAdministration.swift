public import Foundation

/// The administrator's user operations (`bastiond user …`), each one audited.
///
/// Socket-free and synchronous: the CLI calls it against the same database the daemon
/// uses (WAL), so changes such as `user lock` apply to the next login at once.
public struct UserAdministration: Sendable {
    /// What a new or re-enrolled user needs to set up their authenticator app.
    public struct Enrollment: Sendable {
        public var user: UserName
        public var secret: TOTPSecret
        public var uri: String
    }

    /// One line of `user list`.
    public struct Summary: Sendable {
        public var user: User
        public var keys: [SSHPublicKey]
        public var lockedOutUntil: Date?
    }

    public struct Failure: Error, CustomStringConvertible, Equatable {
        public var message: String
        public var description: String { message }
    }

    private let users: any UserStore
    private let audit: any AuditEmitter
    private let sealer: SecretSealer
    private let policy: Policy
    private let clock: any WallClock
    private let actor: AuditEvent.Actor

    /// - Parameter administrator: who runs the command (the OS user), for the audit log.
    public init(users: any UserStore, audit: any AuditEmitter, sealer: SecretSealer, policy: Policy, clock: any WallClock, administrator: String) {
        self.users = users
        self.audit = audit
        self.sealer = sealer
        self.policy = policy
        self.clock = clock
        self.actor = AuditEvent.Actor(user: administrator, method: "admin-cli")
    }

    public func addUser(name: String, key keyText: String, roles: [String]) throws(Failure) -> Enrollment {
        let user = try userName(name)
        let key = try enrollableKey(keyText)
        let unknown = policy.unknownRoles(in: roles)
        guard unknown.isEmpty else {
            throw Failure(message: "unknown role(s) \(unknown.joined(separator: ", ")); roles are declared in the config file ([roles.NAME])")
        }
        let secret = TOTPSecret.random()
        let now = clock.now()
        try perform(.userAdd, subject: user, details: ["roles": roles.joined(separator: ","), "fingerprint": key.fingerprint]) {
            try users.createUser(
                User(name: user, roles: roles, createdAt: now), key: key, sealedTOTPSecret: try sealer.sealTOTPSecret(secret, for: user)
            )
        }
        return Enrollment(user: user, secret: secret, uri: OTPAuthURI.totp(account: user.rawValue, secret: secret))
    }

    public func listUsers() throws(Failure) -> [Summary] {
        do {
            return try users.allUsers().map { user in
                Summary(user: user, keys: try users.keys(of: user.name), lockedOutUntil: try users.totpState(of: user.name)?.lockedUntil)
            }
        } catch {
            throw Failure(message: "cannot read users: \(error)")
        }
    }

    public func removeUser(name: String) throws(Failure) {
        let user = try userName(name)
        try perform(.userRemove, subject: user) {
            guard try users.removeUser(named: user) else { throw Failure(message: "no user \(user)") }
        }
    }

    public func lockUser(name: String) throws(Failure) {
        let user = try userName(name)
        try perform(.userLock, subject: user) {
            guard try users.setLocked(true, for: user) else { throw Failure(message: "no user \(user)") }
        }
    }

    /// Lifts an administrator's lock and any TOTP lockout.
    public func unlockUser(name: String) throws(Failure) {
        let user = try userName(name)
        try perform(.userUnlock, subject: user) {
            guard try users.setLocked(false, for: user) else { throw Failure(message: "no user \(user)") }
            try users.clearFailures(of: user)
        }
    }

    /// A new TOTP secret (lost phone): the old one stops working at once.
    public func resetTOTP(name: String) throws(Failure) -> Enrollment {
        let user = try userName(name)
        let secret = TOTPSecret.random()
        try perform(.userResetTOTP, subject: user) {
            guard try users.user(named: user) != nil else { throw Failure(message: "no user \(user)") }
            try users.replaceTOTPSecret(of: user, sealedSecret: try sealer.sealTOTPSecret(secret, for: user))
        }
        return Enrollment(user: user, secret: secret, uri: OTPAuthURI.totp(account: user.rawValue, secret: secret))
    }

    public func addKey(name: String, key keyText: String) throws(Failure) {
        let user = try userName(name)
        let key = try enrollableKey(keyText)
        try perform(.userAddKey, subject: user, details: ["fingerprint": key.fingerprint]) {
            try users.addKey(key, to: user, at: clock.now())
        }
    }

    // MARK: - Helpers

    private func userName(_ text: String) throws(Failure) -> UserName {
        guard let name = UserName(text) else {
            throw Failure(message: "invalid user name '\(text)': use 1-32 of a-z 0-9 _ . - starting with a letter or _")
        }
        return name
    }

    private func enrollableKey(_ text: String) throws(Failure) -> SSHPublicKey {
        let key: SSHPublicKey
        do { key = try SSHPublicKey(authorizedKeysLine: text) } catch {
            throw Failure(message: "invalid --key: \(error) (expected e.g. \"ssh-ed25519 AAAA… comment\")")
        }
        if case .rsa(let bits) = key.kind, bits < 3072 {
            throw Failure(message: "invalid --key: RSA keys need at least 3072 bits (this one has \(bits)); ssh-keygen -t ed25519 is recommended")
        }
        return key
    }

    /// Runs a change, then audits it; if the audit append fails the error is reported
    /// (the change is already made, so it is reported loudly rather than hidden).
    private func perform(_ type: AuditEventType, subject: UserName, details: [String: String] = [:], _ change: () throws -> Void) throws(Failure) {
        let now = clock.now()
        do {
            try change()
        } catch let failure as Failure {
            try? audit.append(AuditEvent(type: type, time: now, outcome: .failure, actor: actor, target: subject.rawValue, reason: failure.message, details: details))
            throw failure
        } catch {
            let message = (error as? StoreError).map { $0.detail } ?? "\(error)"
            try? audit.append(AuditEvent(type: type, time: now, outcome: .failure, actor: actor, target: subject.rawValue, reason: message, details: details))
            throw Failure(message: message)
        }
        do {
            try audit.append(AuditEvent(type: type, time: now, actor: actor, target: subject.rawValue, details: details))
        } catch {
            throw Failure(message: "the change was made but could not be audited: \(error)")
        }
    }
}
