public import Foundation

/// Sign-in links and web sessions of the auditors' web view. Only SHA-256 hashes of the
/// tokens are stored: a copy of the database signs nobody in.
public protocol WebSessionStore: Sendable {
    /// Records a single-use sign-in link for `user`, valid until `expiresAt`.
    func addSignInLink(tokenHash: String, user: UserName, createdAt: Date, expiresAt: Date) throws
    /// Uses the link up, atomically: a second call for the same hash answers `.used`.
    func consumeSignInLink(tokenHash: String, now: Date) throws -> SignInLinkUse
    func addWebSession(_ session: WebSession) throws
    /// The session with this token hash, if it exists and has not expired at `now`.
    func webSession(tokenHash: String, now: Date) throws -> WebSession?
    /// Removes the session; returns it if it existed.
    func removeWebSession(tokenHash: String) throws -> WebSession?
    /// Deletes links and sessions that expired before `cutoff`; returns how many.
    func purgeWebSessions(expiredBefore cutoff: Date) throws -> Int
}

/// What using a sign-in link found.
public enum SignInLinkUse: Sendable, Equatable {
    case valid(UserName)
    case used(UserName)
    case expired(UserName)
    case unknown
}

/// A signed-in browser: who, and until when (a fixed lifetime, not sliding).
public struct WebSession: Sendable, Equatable {
    /// SHA-256 (lowercase hex) of the cookie's token.
    public var tokenHash: String
    public var user: UserName
    public var createdAt: Date
    public var expiresAt: Date

    public init(tokenHash: String, user: UserName, createdAt: Date, expiresAt: Date) {
        self.tokenHash = tokenHash
        self.user = user
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    /// The name audit records give this session: a prefix of the token's hash, never the token.
    public var auditID: String { String(tokenHash.prefix(12)) }
}
