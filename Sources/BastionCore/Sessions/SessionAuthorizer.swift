public import Foundation

/// Decides whether an authenticated user may open a session as `login` on `target`.
///
/// Pure policy: the roles in the reviewed config file say which targets (names, globs,
/// labels) and which logins. The denial carries two texts: one line for the user (who
/// already proved who they are, so naming the target is fine) and the reason for the audit.
public struct SessionAuthorizer: Sendable {
    public enum Decision: Sendable, Equatable {
        /// `maxDuration`: the longest limit among the roles that grant this login here; nil if one has none.
        case allow(TargetDefinition, maxDuration: TimeInterval?)
        case deny(userMessage: String, reason: String)
        /// `login` is one of the user's `elevated_logins` here: allowed only with an active grant.
        case needsGrant(TargetDefinition)
    }

    private let policy: Policy

    public init(policy: Policy) {
        self.policy = policy
    }

    public func authorize(user: User, login: String, target name: String) -> Decision {
        guard let target = policy.targets[name] else {
            return .deny(userMessage: "unknown target \(name)", reason: "unknown target \(name)")
        }
        let logins = policy.logins(forRoles: user.roles, on: target)
        if !logins.contains(login), policy.requiresElevation(forRoles: user.roles, login: login, on: target) {
            return .needsGrant(target)
        }
        guard !logins.isEmpty else {
            // Same words as an unknown target: a user learns nothing about hosts they may not reach.
            return .deny(userMessage: "unknown target \(name)", reason: "no role of \(user.name) grants target \(name)")
        }
        guard logins.contains(login) else {
            return .deny(userMessage: "login \(login) not allowed on \(name)", reason: "no role of \(user.name) grants login \(login) on \(name)")
        }
        let granting = user.roles.compactMap { policy.roles[$0] }.filter { $0.grants(target: target) && $0.logins.contains(login) }
        let limits = granting.map(\.maxSessionDuration)
        let maxDuration: TimeInterval? = limits.contains { $0 == nil } ? nil : limits.compactMap { $0 }.max()
        return .allow(target, maxDuration: maxDuration)
    }

    /// The role's `file_transfer` for a session as `login` on `target` (see `Policy.fileTransfer`).
    public func fileTransfer(user: User, login: String, target: TargetDefinition) -> FileTransferPolicy {
        policy.fileTransfer(forRoles: user.roles, login: login, on: target)
    }
}
