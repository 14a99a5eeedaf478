#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// Roles and targets: the part of access control that lives in the reviewed configuration file.
/// Which user holds which role lives in the database; callers pass a user's role names in.
///
/// Role names the policy does not know (a role removed from the file while users still hold
/// it) grant nothing; `unknownRoles(in:)` lets the caller audit them.
public struct Policy: Sendable, Equatable {
    public var roles: [String: Role]
    public var targets: [String: TargetDefinition]

    public init(roles: [String: Role] = [:], targets: [String: TargetDefinition] = [:]) {
        self.roles = roles
        self.targets = targets
    }

    /// No roles and no targets: nobody may do anything.
    public static let empty = Policy()

    /// The longest certificate a user holding `roles` may get: the largest cap among the roles
    /// the policy knows, or `nil` when it knows none of them.
    ///
    /// `nil` means *no certificate at all*, and the caller must refuse. A certificate is the
    /// user's credential for everything bastiond does, so a user with no role would gain
    /// nothing legitimate from one, while a stolen one would still open the SSH front door;
    /// and taking away a user's last role must mean the same as taking away their access.
    public func certificateTTLCap(forRoles roleNames: [String]) -> TimeInterval? {
        known(roleNames).map(\.maxCertificateTTL).max()
    }

    /// The certificate extensions a user holding `roles` gets: the union over the known roles,
    /// sorted (certificate extensions are encoded in lexical order, PROTOCOL.certkeys).
    public func certificateExtensions(forRoles roleNames: [String]) -> [String] {
        Set(known(roleNames).flatMap(\.extensions)).sorted()
    }

    /// The logins a user holding `roles` may use on `target`, sorted and without duplicates.
    /// The logins the roles allow on `target`, matched by name or label.
    public func logins(forRoles roleNames: [String], on target: TargetDefinition) -> [String] {
        Set(known(roleNames).filter { $0.grants(target: target) }.flatMap(\.logins)).sorted()
    }

    /// The most authenticated connections a user holding `roles` may have at once: the
    /// largest `max_connections` among the known roles, nil when one of them has none.
    public func maxConnections(forRoles roleNames: [String]) -> Int? {
        let limits = known(roleNames).map(\.maxConnections)
        return limits.contains { $0 == nil } ? nil : limits.compactMap { $0 }.max()
    }

    /// The most session channels one connection of a user holding `roles` may have open at
    /// once: the largest `max_sessions` among the known roles (a role without one counts as
    /// ``Role/defaultMaxSessions``); the default when no role is known.
    public func maxSessions(forRoles roleNames: [String]) -> Int {
        known(roleNames).map { $0.maxSessions ?? Role.defaultMaxSessions }.max() ?? Role.defaultMaxSessions
    }

    /// Whether one of the roles lets its members open `direct-tcpip` to `host:port`.
    public func allowsDirectTCPIP(forRoles roleNames: [String], host: String, port: Int) -> Bool {
        let destination = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        return known(roleNames).contains { $0.directTCPIPDestinations.contains(destination) }
    }

    /// Every declared target the roles reach, with the logins allowed there, by name; logins
    /// that need an elevation grant are marked with a trailing `*`.
    public func reachableTargets(forRoles roleNames: [String]) -> [(target: TargetDefinition, logins: [String])] {
        targets.values.sorted { $0.name < $1.name }.compactMap { target in
            let plain = logins(forRoles: roleNames, on: target)
            let elevated = Set(known(roleNames).filter { $0.grants(target: target) }.flatMap(\.elevatedLogins)).subtracting(plain).sorted()
            let logins = plain + elevated.map { $0 + "*" }
            return logins.isEmpty ? nil : (target, logins)
        }
    }

    public func logins(forRoles roleNames: [String], on target: String) -> [String] {
        Set(known(roleNames).filter { $0.grants(target: target) }.flatMap(\.logins)).sorted()
    }

    /// Whether `login` on `target` needs an elevation grant for a user holding `roles`: one
    /// of the roles lists it in `elevated_logins` and none grants it plainly in `logins`.
    public func requiresElevation(forRoles roleNames: [String], login: String, on target: TargetDefinition) -> Bool {
        let roles = known(roleNames)
        return roles.contains { $0.elevates(login: login, on: target) }
            && !roles.contains { $0.grants(target: target) && $0.logins.contains(login) }
    }

    /// The longest grant a user holding `roles` may get for `login` on `target`, or nil when
    /// no role lets them request it.
    public func maxElevation(forRoles roleNames: [String], login: String, on target: TargetDefinition) -> TimeInterval? {
        known(roleNames).filter { $0.elevates(login: login, on: target) }.map(\.maxElevation).max()
    }

    /// Whether a user holding `roles` is an auditor (a role with `audit = true`).
    public func isAuditor(roles roleNames: [String]) -> Bool {
        known(roleNames).contains(where: \.audit)
    }

    /// Whether a user holding `roles` may decide requests for `login` on `target`.
    public func mayApprove(forRoles roleNames: [String], login: String, on target: TargetDefinition) -> Bool {
        known(roleNames).contains { $0.mayApprove(login: login, on: target) }
    }

    /// The names in `roleNames` that the policy does not define, in the order given, once each.
    public func unknownRoles(in roleNames: [String]) -> [String] {
        var seen: Set<String> = []
        return roleNames.filter { roles[$0] == nil && seen.insert($0).inserted }
    }

    func known(_ roleNames: [String]) -> [Role] {
        roleNames.compactMap { roles[$0] }
    }
}
