import BastionCrypto
public import Foundation

/// Sign-in for the auditors' web view, without a password of its own: `ssh … web` (key and
/// TOTP, or a certificate) prints a single-use link valid for ``linkLifetime``; opening it
/// starts a web session held in an HttpOnly cookie for ``sessionLifetime``.
///
/// The session lifetime is fixed, not sliding: an auditor signs in again with `ssh … web`
/// after eight hours, so a forgotten browser cannot keep access alive by polling. Every
/// request re-checks that the user still exists, is not locked and still holds an auditor
/// role, so removing the role ends access at once. Only SHA-256 hashes of the tokens are
/// stored (``WebSessionStore``).
public struct WebSessions: WebSignInIssuer {
    public static let linkLifetime: TimeInterval = 60
    public static let sessionLifetime: TimeInterval = 8 * 3_600
    public static let cookieName = "bastion_session"

    private let store: any WebSessionStore
    private let users: any UserStore
    private let policySource: any PolicySource
    /// As the file says now (a reload may replace it between two calls).
    private var policy: Policy { policySource.current }
    private let audit: any AuditEmitter
    private let clock: any WallClock
    private let publicURL: String

    public init(
        store: any WebSessionStore, users: any UserStore, policy: any PolicySource, audit: any AuditEmitter, clock: any WallClock, publicURL: String
    ) {
        self.store = store
        self.users = users
        self.policySource = policy
        self.audit = audit
        self.clock = clock
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
    }

    /// Whether cookies get `Secure`: when people reach the web view over https.
    public var secureCookies: Bool { publicURL.lowercased().hasPrefix("https://") }

    // MARK: Sign-in links

    public func signInLink(for user: User, connection: AuditEvent.Connection?) throws -> String {
        let now = clock.now()
        let token = Self.newToken()
        _ = try? store.purgeWebSessions(expiredBefore: now.addingTimeInterval(-86_400))
        let expires = now.addingTimeInterval(Self.linkLifetime)
        try store.addSignInLink(tokenHash: Self.hash(token), user: user.name, createdAt: now, expiresAt: expires)
        try audit.append(AuditEvent(
            type: .webSignInLink, time: now, actor: .init(user: user.name.rawValue, method: "ssh"), connection: connection,
            details: ["expires": Self.timestamp(expires)]
        ))
        return publicURL + "/signin/" + token
    }

    /// What opening a sign-in link led to.
    public enum SignIn: Sendable {
        /// A new session: `cookie` is the token the browser keeps.
        case signedIn(cookie: String, session: WebSession)
        /// Refused (audited): `gone` for a used or expired link, otherwise not valid.
        case refused(gone: Bool, message: String)
    }

    /// Uses the link up and, for an auditor who is not locked, starts a web session.
    public func signIn(token: String, path: String, connection: AuditEvent.Connection? = nil) throws -> SignIn {
        let now = clock.now()
        func refuse(path: String, user: String?, reason: String, now: Date) {
            self.refuse(path: path, user: user, reason: reason, now: now, connection: connection)
        }
        guard Self.isWellFormed(token) else {
            refuse(path: path, user: nil, reason: "sign-in link is not valid", now: now)
            return .refused(gone: false, message: "This sign-in link is not valid.")
        }
        switch try store.consumeSignInLink(tokenHash: Self.hash(token), now: now) {
        case .unknown:
            refuse(path: path, user: nil, reason: "sign-in link is not valid", now: now)
            return .refused(gone: false, message: "This sign-in link is not valid.")
        case .used(let name):
            refuse(path: path, user: name.rawValue, reason: "sign-in link already used", now: now)
            return .refused(gone: true, message: "This sign-in link was already used. Links work once.")
        case .expired(let name):
            refuse(path: path, user: name.rawValue, reason: "sign-in link expired", now: now)
            return .refused(gone: true, message: "This sign-in link has expired. Links work for one minute.")
        case .valid(let name):
            if let reason = try refusal(for: name, now: now) {
                refuse(path: path, user: name.rawValue, reason: reason, now: now)
                return .refused(gone: false, message: "The web view is for auditors only.")
            }
            let cookie = Self.newToken()
            let session = WebSession(tokenHash: Self.hash(cookie), user: name, createdAt: now, expiresAt: now.addingTimeInterval(Self.sessionLifetime))
            try store.addWebSession(session)
            try audit.append(AuditEvent(
                type: .webSignIn, time: now, actor: .init(user: name.rawValue, method: "web"), connection: connection,
                details: ["web_session": session.auditID, "expires": Self.timestamp(session.expiresAt)]
            ))
            return .signedIn(cookie: cookie, session: session)
        }
    }

    // MARK: Requests

    /// Who is asking, decided afresh on every request.
    public enum Viewer: Sendable {
        case auditor(User, WebSession)
        /// No cookie, or one for no current session.
        case signedOut
        /// A session whose user may no longer see the web view (audited, session removed).
        case refused
    }

    public func viewer(cookie: String?, path: String, connection: AuditEvent.Connection? = nil) throws -> Viewer {
        let now = clock.now()
        guard let cookie, Self.isWellFormed(cookie), let session = try store.webSession(tokenHash: Self.hash(cookie), now: now) else {
            return .signedOut
        }
        if let reason = try refusal(for: session.user, now: now) {
            _ = try store.removeWebSession(tokenHash: session.tokenHash)
            refuse(path: path, user: session.user.rawValue, reason: reason, now: now, webSession: session.auditID, connection: connection)
            return .refused
        }
        guard let user = try users.user(named: session.user) else { return .refused }
        return .auditor(user, session)
    }

    /// Ends the session of `cookie`, if any; audited. Returns whether one ended.
    @discardableResult
    public func signOut(cookie: String?, connection: AuditEvent.Connection? = nil) throws -> Bool {
        guard let cookie, Self.isWellFormed(cookie), let session = try store.removeWebSession(tokenHash: Self.hash(cookie)) else { return false }
        try audit.append(AuditEvent(
            type: .webSignOut, time: clock.now(), actor: .init(user: session.user.rawValue, method: "web"), connection: connection,
            details: ["web_session": session.auditID]
        ))
        return true
    }

    /// Audits a refused web request (`web.refused`).
    public func refuse(
        path: String, user: String?, reason: String, now: Date? = nil, webSession: String? = nil, connection: AuditEvent.Connection? = nil
    ) {
        var details = ["path": String(path.prefix(200))]
        details["web_session"] = webSession
        try? audit.append(AuditEvent(
            type: .webRefused, time: now ?? clock.now(), outcome: .failure, actor: .init(user: user, method: "web"), connection: connection,
            reason: reason, details: details
        ))
    }

    /// Why `name` may not use the web view now, or nil.
    private func refusal(for name: UserName, now: Date) throws -> String? {
        guard let user = try users.user(named: name) else { return "unknown user" }
        if user.isLocked { return "user is locked" }
        if let until = try users.totpState(of: name)?.lockedUntil, until > now { return "user is locked out" }
        return policy.isAuditor(roles: user.roles) ? nil : "not an auditor"
    }

    // MARK: Tokens

    /// 32 random bytes, base64url without padding (43 characters).
    static func newToken() -> String {
        Data(SecureRandom.bytes(32)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func isWellFormed(_ token: String) -> Bool {
        token.utf8.count == 43 && token.utf8.allSatisfy { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || (0x30...0x39).contains($0)
            || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
    }

    static func hash(_ token: String) -> String {
        Hex.string(SHA256.hash(Array(token.utf8)))
    }

    private static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle())
    }
}
