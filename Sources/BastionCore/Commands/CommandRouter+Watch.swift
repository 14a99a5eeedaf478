import Foundation

extension CommandRouter {
    /// `watch ID`: follows a live session's output (``WatchConversation``); with
    /// `--terminate --reason TEXT`, ends it (``TerminateConversation``).
    ///
    /// Decided by ``WatchPermission``; every refusal is one line and a `session.watch` (or
    /// `session.terminate`) record with outcome failure. A watch or termination is audited
    /// before it starts: if that record cannot be written, nothing is shown (fail closed).
    /// `watch`: the live sessions the user may watch, oldest first (nothing for the others).
    func liveSessionList(identity: AuthenticatedIdentity) -> String {
        let isAuditor = policy.isAuditor(roles: identity.user.roles)
        let mine = (broadcasts?.all() ?? []).filter { watchPermission(for: $0, isAuditor: isAuditor, user: identity.user.name.rawValue) != .refused }
        guard !mine.isEmpty else { return "no live session you may watch\n" }
        let rows = mine.map { session in
            [session.info.id.rawValue, session.info.user, "\(session.info.login)@\(session.info.target)",
                SessionListReport.time(session.info.startedAt), session.info.grantID?.rawValue ?? "-", String(session.watchers)]
        }
        let header = ["ID", "USER", "LOGIN@TARGET", "STARTED (UTC)", "GRANT", "WATCHERS"]
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n") + "\n"
    }

    /// Who may watch `broadcast` (nil: no such live session).
    private func watchPermission(for broadcast: SessionBroadcast?, isAuditor: Bool, user: String) -> WatchPermission {
        var approvers: [String]? = []
        if let grantID = broadcast?.info.grantID {
            approvers = (try? elevation?.request(id: grantID))?.map(\.approvers) ?? nil
        }
        return WatchPermission.decide(isAuditor: isAuditor, user: user, sessionExists: broadcast != nil, grantApprovers: approvers)
    }

    func runWatch(_ ask: BastionCommand.WatchAsk, identity: AuthenticatedIdentity, now: Date) -> CommandResult {
        let user = identity.user.name.rawValue
        let broadcast = broadcasts?.session(id: ask.id)
        let permission = watchPermission(for: broadcast, isAuditor: policy.isAuditor(roles: identity.user.roles), user: user)
        let type: AuditEventType = ask.termination == nil ? .sessionWatch : .sessionTerminate
        var details = ["session_id": String(ask.id.rawValue.prefix(64)), "via": "ssh"]
        details["terminate_reason"] = ask.termination
        func event(_ type: AuditEventType, outcome: AuditEvent.Outcome, reason: String?, details: [String: String]) -> AuditEvent {
            AuditEvent(
                type: type, time: now, outcome: outcome, actor: identity.auditActor,
                connection: identity.connection.auditConnection(sshUsername: user),
                session: broadcast.map { .init(id: $0.info.id, login: $0.info.login) }, target: broadcast?.info.target, reason: reason,
                details: details
            )
        }
        let role: WatchPermission.Role
        switch permission {
        case .allowed(let allowed):
            role = allowed
        case .noSuchSession:
            try? auditLog.append(event(type, outcome: .failure, reason: "no live session with that id", details: details))
            return .output(.failure("watch: no live session \(ask.id) on this bastion"))
        case .refused:
            try? auditLog.append(event(type, outcome: .failure, reason: "not an auditor nor an approver of the session's elevation grant", details: details))
            return .output(.failure(WatchPermission.refusal(ask.id)))
        }
        guard let broadcast else { return .output(.failure("internal failure; try again later")) }
        details["as"] = role.rawValue
        details["user"] = broadcast.info.user
        do { try auditLog.append(event(type, outcome: .success, reason: nil, details: details)) } catch {
            return .output(.failure("internal failure; try again later"))
        }
        if let reason = ask.termination {
            return .conversation(TerminateConversation(broadcast: broadcast, by: user, reason: reason))
        }
        let ended: @Sendable (WatchConversation.Summary) -> Void = { [auditLog, clock] summary in
            var details = ["session_id": broadcast.info.id.rawValue, "via": "ssh", "as": role.rawValue, "end": summary.end]
            details["duration"] = String(format: "%.3f", summary.duration)
            details["bytes"] = String(summary.bytes)
            details["bytes_skipped"] = String(summary.skipped)
            try? auditLog.append(AuditEvent(
                type: .sessionWatchEnd, time: clock.now(), actor: identity.auditActor,
                connection: identity.connection.auditConnection(sshUsername: user),
                session: .init(id: broadcast.info.id, login: broadcast.info.login), target: broadcast.info.target, details: details
            ))
        }
        // The roles as the policy defines them now (a reload), the grant's approvers as stored.
        let stillAllowed = { [self] in
            watchPermission(for: broadcast, isAuditor: policy.isAuditor(roles: identity.user.roles), user: user) == permission
        }
        return .conversation(WatchConversation(broadcast: broadcast, watcher: user, stillAllowed: stillAllowed, onEnd: ended))
    }
}
