public import Foundation

/// The one place that decides whether an authenticated connection, or one of its channels,
/// may go on: relayed sessions, `-L`/`-W` forwards and Bastion's own commands alike.
///
/// The SSH adapter asks it once a second for every authenticated connection and at every
/// new channel, with facts it has just read, and carries out the answer. A lock, a removal,
/// an expired certificate or a role taken away therefore reaches every kind of channel the
/// same way, within a second. Pure: no store, no clock of its own.
public struct EnforcementPoint: Sendable {
    /// What must happen to the connection now.
    public enum Decision: Sendable, Equatable {
        case proceed
        /// Everything ends: relayed sessions (each with its message on its channel), forwards,
        /// running commands; then the connection.
        case end(EnforcementReason)
        /// These relayed sessions end (by id, each for its reason) and these forwards close
        /// (their destination is no longer allowed); the rest of the connection goes on.
        case close(sessions: [SessionID: EnforcementReason], forwards: Set<String>)
    }

    /// A channel the client asks to open.
    public enum ChannelRequest: Sendable, Equatable {
        case session
        case directTCPIP(EnforcementFacts.Forward)
    }

    public enum Admission: Sendable, Equatable {
        case admit
        case refuse(EnforcementReason)
    }

    public var policy: Policy
    /// `sessions.idle_timeout`: for relayed sessions and for connections that only forward.
    public var idleTimeout: TimeInterval

    public init(policy: Policy, idleTimeout: TimeInterval) {
        self.policy = policy
        self.idleTimeout = idleTimeout
    }

    /// The once-a-second check.
    public func evaluate(_ facts: EnforcementFacts, now: Date) -> Decision {
        if let reason = connectionEnding(facts, now: now) { return .end(reason) }
        if facts.sessions.isEmpty, let last = facts.lastActivity, now.timeIntervalSince(last) >= idleTimeout {
            return .end(.idle(idleTimeout))
        }
        var sessions: [SessionID: EnforcementReason] = [:]
        for session in facts.sessions {
            if let reason = sessionEnding(session, account: facts.account, now: now) { sessions[session.id] = reason }
        }
        var withdrawn: Set<String> = []
        if case .current(let user) = facts.account {
            withdrawn = Set(facts.forwards.filter { !allows($0, roles: user.roles) }.map(\.destination))
        }
        return sessions.isEmpty && withdrawn.isEmpty ? .proceed : .close(sessions: sessions, forwards: withdrawn)
    }

    /// The check at every new channel: the connection must still be entitled to anything,
    /// a session channel must fit in `max_sessions`, and a forward's destination must be
    /// allowed by the user's roles as they are now.
    public func admit(_ request: ChannelRequest, facts: EnforcementFacts, now: Date) -> Admission {
        if let reason = connectionEnding(facts, now: now) { return .refuse(reason) }
        switch request {
        case .session:
            guard case .current(let user) = facts.account else { return .admit }
            let limit = policy.maxSessions(forRoles: user.roles)
            return facts.sessionChannels >= limit ? .refuse(.tooManySessions(limit: limit)) : .admit
        case .directTCPIP(let forward):
            // An unreadable account opens nothing new (fail closed); running channels are left alone.
            guard case .current(let user) = facts.account, allows(forward, roles: user.roles) else {
                return .refuse(.forwardNotAllowed(destination: forward.destination))
            }
            return .admit
        }
    }

    /// Reasons that end the whole connection whatever runs on it.
    private func connectionEnding(_ facts: EnforcementFacts, now: Date) -> EnforcementReason? {
        if facts.shuttingDown { return .shutdown }
        if let validBefore = facts.certificateValidBefore, now >= validBefore { return .certificateExpired }
        switch facts.account {
        case .removed: return .accountRemoved
        case .current(let user) where user.isLocked: return .accountLocked
        case .current(let user):
            // The newest connections past the roles' max_connections end, the oldest stay.
            if let limit = policy.maxConnections(forRoles: user.roles), facts.connectionRank > limit { return .tooManyConnections(limit: limit) }
        case .unreadable: break
        }
        return Self.reason(for: facts.endRequest)
    }

    private static func reason(for request: SessionEndRequest?) -> EnforcementReason? {
        switch request {
        case .kill?: .killed
        case .endedElsewhere?: .endedElsewhere
        case nil: nil
        }
    }

    /// Reasons that end a relayed session: its own limits, and the policy as it is now.
    private func sessionEnding(_ session: EnforcementFacts.Session, account: EnforcementFacts.Account, now: Date) -> EnforcementReason? {
        if let reason = Self.reason(for: session.endRequest) { return reason }
        if let limit = session.maxDuration, now.timeIntervalSince(session.startedAt) >= limit { return .maximumLength(limit) }
        switch session.grant {
        case .ended(let id)?: return .grantEnded(id: id)
        case .active?, .unreadable?, nil: break
        }
        if case .current(let user) = account {
            switch SessionAuthorizer(policy: policy).authorize(user: user, login: session.login, target: session.target) {
            case .allow: break
            // Under a grant the grant decides (checked above); without one the login is no longer plain.
            case .needsGrant where session.grant != nil: break
            case .needsGrant, .deny: return .accessWithdrawn(login: session.login, target: session.target)
            }
        }
        if now.timeIntervalSince(session.lastActivity) >= idleTimeout { return .idle(idleTimeout) }
        return nil
    }

    private func allows(_ forward: EnforcementFacts.Forward, roles: [String]) -> Bool {
        policy.allowsDirectTCPIP(forRoles: roles, host: forward.host, port: forward.port)
    }
}
