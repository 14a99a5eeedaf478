#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// What the members of a role may do: which targets they may reach, as which logins, and how
/// long and with which extensions their certificates may be.
///
/// A role with no targets or logins is valid: its members may hold a certificate (for `whoami`,
/// approving, replaying) but open no session.
public struct Role: Sendable, Equatable {
    public var name: String
    /// Target names, `Glob` patterns, or label selectors `label:KEY=VALUE` (value may be a glob).
    public var targets: [String]
    public var logins: [String]
    /// The longest certificate a member may be issued, in seconds.
    public var maxCertificateTTL: TimeInterval
    /// OpenSSH certificate extensions members get (see `PolicyRules.certificateExtensions`).
    public var extensions: [String]
    /// `max_session`: the longest a relayed session of a member may last; nil for no limit.
    public var maxSessionDuration: TimeInterval?
    /// `allow_direct_tcpip`: `HOST:PORT` destinations members may reach with `ssh -L`/`-W`
    /// through Bastion (logged, not recorded). Empty: port forwarding refused.
    public var directTCPIPDestinations: [String] = []
    /// `elevated_logins`: logins members may use only while they hold an active elevation
    /// grant for that target and login (and may request one for).
    public var elevatedLogins: [String] = []
    /// `max_elevation`: the longest grant a member may receive.
    public var maxElevation: TimeInterval = ElevationSettings.defaultMaxElevation
    /// `approve_targets`: targets (names, globs, `label:K=V`) whose requests members may decide.
    public var approveTargets: [String] = []
    /// `approve_logins`: the logins those decisions may cover.
    public var approveLogins: [String] = []
    /// `audit`: members are auditors (list, search and replay sessions, the web view).
    public var audit = false
    /// `max_connections`: authenticated connections a member may hold at once (Teleport's
    /// name); nil for no limit.
    public var maxConnections: Int?
    /// `max_sessions`: session channels one connection may have open at once (Teleport's
    /// name, sshd's `MaxSessions`); nil for the default, ``defaultMaxSessions``.
    public var maxSessions: Int?
    /// `file_transfer`: which way files may move over SFTP and legacy scp (default `allow`).
    public var fileTransfer: FileTransferPolicy = .allow

    /// sshd's `MaxSessions` default.
    public static let defaultMaxSessions = 10

    public init(
        name: String,
        targets: [String] = [],
        logins: [String] = [],
        maxCertificateTTL: TimeInterval,
        extensions: [String] = PolicyRules.defaultExtensions,
        maxSessionDuration: TimeInterval? = nil
    ) {
        self.maxSessionDuration = maxSessionDuration
        self.name = name
        self.targets = targets
        self.logins = logins
        self.maxCertificateTTL = maxCertificateTTL
        self.extensions = extensions
    }

    /// Whether one of the role's target patterns matches `target`.
    public func grants(target: String) -> Bool {
        targets.contains { Glob($0).matches(target) }
    }

    /// Whether one of the role's patterns matches the target by name or by label.
    public func grants(target: TargetDefinition) -> Bool {
        targets.contains { pattern in
            if let selector = LabelSelector(pattern) { return selector.matches(target.labels) }
            return Glob(pattern).matches(target.name)
        }
    }

    /// Whether the role lets its members decide requests for `login` on `target`.
    public func mayApprove(login: String, on target: TargetDefinition) -> Bool {
        approveLogins.contains(login) && Self.matches(approveTargets, target)
    }

    /// Whether `login` on `target` is one of the role's elevated logins.
    public func elevates(login: String, on target: TargetDefinition) -> Bool {
        elevatedLogins.contains(login) && grants(target: target)
    }

    private static func matches(_ patterns: [String], _ target: TargetDefinition) -> Bool {
        patterns.contains { pattern in
            if let selector = LabelSelector(pattern) { return selector.matches(target.labels) }
            return Glob(pattern).matches(target.name)
        }
    }

    /// Whether the role lets its members log in as `login` on `target`.
    public func grants(login: String, on target: String) -> Bool {
        logins.contains(login) && grants(target: target)
    }
}
