public import BastionCore

/// What a configuration file re-read on SIGHUP changes in a running daemon, decided before
/// anything is touched.
///
/// Roles and targets (with their limits, addresses, pinned keys and labels), SIEM sinks,
/// chat-ops webhooks and the log level change in place. Every other section is read once at start: listeners, the data directory,
/// storage and keys because a running process cannot move them without dropping every
/// connection, the rest because the services holding them are built once. A change there is
/// reported as needing a restart and left as it is, so the daemon never runs half of a section.
public struct ReloadPlan: Sendable, Equatable {
    public var policy: PolicyChange
    /// `[[siem.sinks]]` by name: a relay starts, stops, or is replaced (same cursor).
    public var sinks: PolicyChange.Names
    /// `[[chatops.webhooks]]` by name, likewise.
    public var webhooks: PolicyChange.Names
    /// The new log level, when it changed.
    public var logLevel: String?
    /// Sections whose change is not applied until bastiond restarts (`[ssh]`, `[siem]`, …).
    public var restartNeeded: [String]
    /// The HTTP listener's TLS certificate, key and client CA are read again (a renewed
    /// certificate under the same path included), and `tls_min` and the paths apply: true
    /// when TLS is on before and after, with `client_ca` set in both or neither. Turning TLS
    /// or mutual TLS on or off waits for a restart.
    public var reloadsTLS: Bool

    public init(from old: BastionConfiguration, to new: BastionConfiguration) {
        policy = PolicyChange(from: old.policy, to: new.policy)
        logLevel = old.log.level == new.log.level ? nil : new.log.level
        sinks = PolicyChange.Names(from: Self.byName(old.siem.sinks, \.name), to: Self.byName(new.siem.sinks, \.name))
        webhooks = PolicyChange.Names(from: Self.byName(old.chatops.webhooks, \.name), to: Self.byName(new.chatops.webhooks, \.name))
        // The sinks and webhooks apply in place; the rest of their sections waits.
        var (oldSIEM, newSIEM, oldChat, newChat) = (old.siem, new.siem, old.chatops, new.chatops)
        (oldSIEM.sinks, newSIEM.sinks, oldChat.webhooks, newChat.webhooks) = ([], [], [], [])
        var (oldHTTP, newHTTP) = (old.http, new.http)
        if let before = old.http.tls, let after = new.http.tls, (before.clientCA == nil) == (after.clientCA == nil) {
            reloadsTLS = true
            (oldHTTP.tls, newHTTP.tls) = (nil, nil)
        } else {
            reloadsTLS = false
        }
        let sections: [(String, Bool)] = [
            ("server", old.server == new.server), ("storage", old.storage == new.storage), ("keys", old.keys == new.keys), ("ca", old.ca == new.ca),
            ("ssh", old.ssh == new.ssh),
            ("http", oldHTTP == newHTTP), ("auth", old.auth == new.auth), ("certificates", old.certificates == new.certificates),
            ("recording", old.recording == new.recording), ("sessions", old.sessions == new.sessions), ("audit", old.audit == new.audit),
            ("retention", old.retention == new.retention), ("siem", oldSIEM == newSIEM), ("chatops", oldChat == newChat),
            ("elevation", old.elevation == new.elevation), ("backup", old.backup == new.backup),
        ]
        restartNeeded = sections.filter { !$0.1 }.map { "[\($0.0)]" }
    }

    /// Nothing that applies in place changed.
    public var changesNothing: Bool { policy.isEmpty && sinks.isEmpty && webhooks.isEmpty && logLevel == nil }

    private static func byName<Item: Equatable>(_ items: [Item], _ name: KeyPath<Item, String>) -> [String: Item] {
        Dictionary(items.map { ($0[keyPath: name], $0) }) { first, _ in first }
    }

    /// The audit record's details (beside the file's SHA-256): what changed, what waits.
    public var details: [String: String] {
        var details = policy.details
        for (kind, names) in [("sinks", sinks), ("webhooks", webhooks)] {
            for (change, list) in [("added", names.added), ("removed", names.removed), ("modified", names.modified)] where !list.isEmpty {
                details["\(kind)_\(change)"] = list.joined(separator: ",")
            }
        }
        details["log_level"] = logLevel
        if reloadsTLS { details["http_tls"] = "reloaded" }
        if !restartNeeded.isEmpty { details["restart_needed"] = restartNeeded.joined(separator: ",") }
        return details
    }

    /// One line for the log and `STATUS=`: `roles +1 -0 ~2, targets +0 -1 ~0; [ssh] needs a restart`.
    public var summary: String {
        func counts(_ names: PolicyChange.Names) -> String { "+\(names.added.count) -\(names.removed.count) ~\(names.modified.count)" }
        var text = "roles \(counts(policy.roles)), targets \(counts(policy.targets))"
        if !sinks.isEmpty { text += ", SIEM sinks \(counts(sinks))" }
        if !webhooks.isEmpty { text += ", chat-ops webhooks \(counts(webhooks))" }
        if let logLevel { text += ", log level \(logLevel)" }
        if reloadsTLS { text += ", HTTP TLS certificate reloaded" }
        if !restartNeeded.isEmpty {
            text += "; \(restartNeeded.joined(separator: ", ")) changed: not applied until bastiond restarts"
        }
        return text
    }
}
