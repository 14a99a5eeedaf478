public import Foundation

/// A person enrolled in Bastion. Users live in the database; what they may do comes from
/// their roles, which live in the reviewed config file.
public struct User: Sendable, Hashable {
    public var name: UserName
    public var roles: [String]
    /// Locked by an administrator (`bastiond user lock`): every login is refused until unlocked.
    public var isLocked: Bool
    public var createdAt: Date

    public init(name: UserName, roles: [String], isLocked: Bool = false, createdAt: Date) {
        self.name = name
        self.roles = roles
        self.isLocked = isLocked
        self.createdAt = createdAt
    }
}

/// The second-factor state of one user, as stored.
public struct TOTPState: Sendable, Hashable {
    /// The TOTP seed sealed with AES-256-GCM under the master key (see ``SecretSealer``).
    public var sealedSecret: [UInt8]
    /// The highest time step ever accepted; codes for this step or earlier are replays.
    public var lastUsedStep: Int64?
    /// Consecutive wrong codes since the last success.
    public var consecutiveFailures: Int
    /// Set when `consecutiveFailures` reached the limit: every login is refused until then.
    public var lockedUntil: Date?

    public init(sealedSecret: [UInt8], lastUsedStep: Int64? = nil, consecutiveFailures: Int = 0, lockedUntil: Date? = nil) {
        self.sealedSecret = sealedSecret
        self.lastUsedStep = lastUsedStep
        self.consecutiveFailures = consecutiveFailures
        self.lockedUntil = lockedUntil
    }
}
