public import BastionCore

/// The domain services a front-door connection calls. Synchronous and thread-safe: the
/// connection threads call them directly.
public struct FrontDoorServices: Sendable {
    public var authenticator: Authenticator
    public var commands: CommandRouter
    public var audit: any AuditEmitter
    public var clock: any WallClock
    public var sessions: SessionServices

    public init(
        authenticator: Authenticator, commands: CommandRouter, audit: any AuditEmitter, clock: any WallClock, sessions: SessionServices
    ) {
        self.authenticator = authenticator
        self.sessions = sessions
        self.commands = commands
        self.audit = audit
        self.clock = clock
    }
}
