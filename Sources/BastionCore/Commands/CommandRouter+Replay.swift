import Foundation

extension CommandRouter {
    /// `replay ID …`: plays a verified recording into the auditor's terminal, or (`--raw`)
    /// streams the `.cast` file itself.
    ///
    /// The recording is checked against its `session.end` record first. A mismatch is refused
    /// and audited (`recording.integrity`); `--force` plays it anyway, audited as forced. The
    /// replay or export is audited before a byte is sent: if that record cannot be written,
    /// nothing is played (fail closed).
    func runReplay(_ ask: BastionCommand.ReplayAsk, identity: AuthenticatedIdentity, archive: any SessionArchive, now: Date) -> CommandResult {
        let name = ask.raw ? "replay --raw" : "replay"
        let found: IndexedSession?
        do { found = try archive.session(id: ask.id) } catch { return .output(.failure("internal failure; try again later")) }
        guard let session = found else { return .output(.failure("\(name): no ended session \(ask.id) (see `sessions`)")) }
        let actor = identity.auditActor
        let connection = identity.connection.auditConnection(sshUsername: identity.user.name.rawValue)
        func event(_ type: AuditEventType, outcome: AuditEvent.Outcome = .success, reason: String? = nil, forced: Bool) -> AuditEvent {
            AuditEvent(
                type: type, time: now, outcome: outcome, actor: actor, connection: connection, session: .init(id: session.id, login: session.login),
                target: session.target, reason: reason, details: ["session_id": session.id.rawValue, "via": "ssh", "forced": forced ? "true" : "false"]
            )
        }

        let path: String
        var forced = false
        switch archive.verify(session) {
        case .intact(let verified):
            path = verified
        case .refused(let reason):
            do { try auditLog.append(event(.recordingIntegrity, outcome: .failure, reason: reason, forced: ask.force)) } catch {
                return .output(.failure("internal failure; try again later"))
            }
            guard ask.force else {
                let what = ask.raw ? "export" : "replay"
                return .output(.failure("\(reason); \(what) refused (use --force to \(ask.raw ? "stream" : "play") it anyway, which is audited)"))
            }
            guard let recorded = session.recording, FileManager.default.isReadableFile(atPath: recorded) else {
                return .output(.failure("session \(session.id): there is no recording to play"))
            }
            path = recorded
            forced = true
        }

        do { try auditLog.append(event(ask.raw ? .sessionExport : .sessionReplay, forced: forced)) } catch {
            return .output(.failure("internal failure; try again later"))
        }
        if ask.raw { return .conversation(CastStreamConversation(sessionID: session.id, path: path, keys: archive.recordingKeys)) }
        return .conversation(ReplayConversation(
            sessionID: session.id, path: path, keys: archive.recordingKeys, banner: Self.replayBanner(session),
            options: .init(speed: ask.speed, idleLimit: ask.idleLimit, from: ask.from)
        ))
    }

    /// `replaying ID (alice root@web01, 2026-11-02 09:14 UTC), q quits`
    static func replayBanner(_ session: IndexedSession) -> String {
        "replaying \(session.id) (\(session.user) \(session.login)@\(session.target), \(SessionListReport.time(session.startedAt)) UTC), "
            + "q quits"
    }
}
