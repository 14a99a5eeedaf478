import BastionCore
import BastionCrypto
import CLibSSH
import Foundation
import Logging

/// What the client asked the session channel to run on the target.
enum SessionKind {
    case shell
    case exec(String)
    case subsystem(String)

    var name: String {
        switch self {
        case .shell: "shell"
        case .exec: "exec"
        case .subsystem: "subsystem"
        }
    }

    var command: String? {
        switch self {
        case .shell: nil
        case .exec(let command): command
        case .subsystem(let name): "subsystem:\(name)"
        }
    }
}

/// The relayed session of a session channel.
struct LiveSession {
    var id: SessionID
    var login: String
    var target: String
    var kind: SessionKind
    var startedAt: Date
    var relay: SessionRelay
    var maxDuration: TimeInterval?
    var endReason = "closed"
    var lastPolicyCheck: Date
    /// The elevation grant this privileged login runs under: the session ends with it.
    var grantID: ElevationID?
    /// The role's `file_transfer` for this login here (SFTP and scp are parsed under it).
    var fileTransfer: FileTransferPolicy = .allow
    /// `file.*` records written so far (counted in `session.end`).
    var fileRecords = 0
}

extension SessionChannel {
    // MARK: - Opening

    /// Opens a recorded session on the target named in `LOGIN@TARGET`. Refusals become one
    /// line on stderr and exit status 1, and an audit record.
    func startTargetSession(_ kind: SessionKind) -> Int32 {
        guard let identity, case .target(let login, let targetName) = identity.request, live == nil, output == nil else { return 1 }
        let connection = connection
        let sessions = services.sessions
        let now = services.clock.now()
        func refuse(_ userMessage: String, reason: String, type: AuditEventType = .sessionDenied, details: [String: String] = [:]) -> Int32 {
            connection.audit(type, outcome: .failure, target: targetName, reason: reason, details: details.merging(["login": login, "kind": kind.name]) { a, _ in a })
            logger.info("session refused", metadata: ["target": "\(targetName)", "reason": "\(reason)"])
            output = PendingOutput(stdout: [], stderr: Array("bastion: \(userMessage)\n".utf8), exitStatus: 1)
            return 0
        }
        let target: TargetDefinition
        let maxDuration: TimeInterval?
        var grantID: ElevationID?
        switch sessions.authorizer.authorize(user: identity.user, login: login, target: targetName) {
        case .deny(let userMessage, let reason): return refuse(userMessage, reason: reason)
        case .allow(let allowed, let limit):
            target = allowed
            maxDuration = limit
        case .needsGrant(let allowed):
            guard let grant = try? sessions.elevation?.activeGrant(user: identity.user.name.rawValue, target: targetName, login: login) else {
                return refuse(
                    "\(login) on \(targetName) needs an approved elevation: ssh -t -p PORT \(identity.user.name)@bastion elevate \(targetName) --login \(login) --reason \"…\"",
                    reason: "no active elevation grant for \(login) on \(targetName)"
                )
            }
            target = allowed
            maxDuration = nil
            grantID = grant.id
        }
        let transferPolicy = sessions.authorizer.fileTransfer(user: identity.user, login: login, target: target)
        var fileTransfer: FileTransferTap?
        switch Self.fileTransferTap(for: kind, policy: transferPolicy) {
        case .plain: break
        case .tapped(let tap): fileTransfer = tap
        case .refused(let refusal):
            var details = ["operation": refusal.operation, "file_transfer": transferPolicy.rawValue]
            details["path"] = refusal.path
            return refuse(
                refusal.userMessage, reason: "file_transfer \(transferPolicy.rawValue) refuses \(refusal.operation)", type: .fileRefused, details: details
            )
        }
        guard let pinned = try? SSHPublicKey(authorizedKeysLine: target.hostKey) else {
            return refuse("target \(targetName) is misconfigured", reason: "pinned host key of \(targetName) is unreadable")
        }
        let sessionID = SessionID.random()
        let upstream: UpstreamSession
        do {
            upstream = try UpstreamConnector.connect(
                UpstreamRequest(
                    host: target.host, port: target.port, pinnedHostKey: pinned, login: login, user: identity.user.name.rawValue,
                    sessionID: sessionID.rawValue, connectTimeout: sessions.settings.connectTimeout, algorithms: connection.configuration.algorithms
                ),
                authority: sessions.upstreamAuthority, now: now
            )
        } catch {
            switch error.code {
            case .hostKeyMismatch:
                connection.audit(
                    .hostKeyMismatch, outcome: .failure, target: targetName, reason: "host key mismatch for \(targetName)",
                    details: ["pinned": pinned.fingerprint, "presented": error.presentedHostKey?.fingerprint ?? "unknown"]
                )
                return refuse("host key mismatch for \(targetName)", reason: "host key mismatch for \(targetName)")
            case .unreachable:
                return refuse("target \(targetName) unreachable", reason: "target \(targetName) unreachable: \(error.detail)")
            default:
                return refuse("target \(targetName) refused the session", reason: "\(error)")
            }
        }
        var recorder: SessionRecorder?
        do {
            recorder = try SessionRecorder(
                directory: sessions.settings.recordingDirectory,
                metadata: RecordingMetadata(
                    sessionID: sessionID.rawValue, user: identity.user.name.rawValue, login: login, target: targetName,
                    sourceAddress: connection.context.remoteAddress, width: Self.dimension(terminal?.columns, default: 80),
                    height: Self.dimension(terminal?.rows, default: 24),
                    term: terminal?.term, command: kind.command, title: "\(login)@\(targetName) by \(identity.user.name)", startedAt: now,
                    streams: terminal == nil
                ),
                clock: services.clock,
                keys: sessions.recordingKeys,
                captureStreams: sessions.settings.captureStreams
            )
        } catch {
            connection.audit(.recordingFailed, outcome: .failure, target: targetName, reason: "\(error)", details: [
                "session_id": sessionID.rawValue, "policy": sessions.settings.onRecordingFailure.rawValue,
            ])
            if sessions.settings.onRecordingFailure.failsClosed {
                upstream.close()
                return refuse("session refused: recording unavailable", reason: "recording could not be created: \(error)")
            }
        }
        guard let targetChannel = openTargetChannel(upstream, kind: kind) else {
            _ = try? recorder?.close()
            upstream.close()
            return refuse("target \(targetName) refused the session", reason: "could not open a \(kind.name) channel on \(targetName)")
        }
        ssh_set_blocking(upstream.session, 0)
        let relay = SessionRelay(
            client: channel, upstream: upstream, target: targetChannel, recorder: recorder,
            captureInput: sessions.settings.captureInput, fileTransfer: fileTransfer, now: now
        )
        relay.ending.exitStatus = earlyTargetExit.status
        relay.ending.exitSignal = earlyTargetExit.signal
        live = LiveSession(
            id: sessionID, login: login, target: targetName, kind: kind, startedAt: now, relay: relay, maxDuration: maxDuration,
            lastPolicyCheck: now, grantID: grantID, fileTransfer: transferPolicy
        )
        var details = [
            "session_id": sessionID.rawValue, "login": login, "kind": kind.name, "upstream_serial": String(upstream.certificate.serial),
            "recording": recorder?.path ?? "none",
        ]
        if let command = kind.command { details["command"] = String(command.prefix(500)) }
        details["elevation_request"] = grantID?.rawValue
        // Markers first: once the session is listed as live, events about it must find it.
        registerBroadcast(relay, user: identity.user.name.rawValue)
        if let recorder {
            sessions.markers?.register(sessionID: sessionID.rawValue, user: identity.user.name.rawValue, target: targetName, recorder: recorder)
            if let grantID { _ = recorder.offerMarker("elevation \(grantID): \(login) under an approved grant") }
        }
        do {
            try services.audit.append(connection.event(.sessionStart, outcome: .success, target: targetName, reason: nil, details: details))
            try sessions.registry.register(SessionRecord(
                id: sessionID, user: identity.user.name.rawValue, login: login, target: targetName, sourceAddress: connection.context.remoteAddress,
                kind: kind.name, startedAt: now, recording: recorder?.path
            ))
        } catch {
            // No record, no session.
            relay.terminate(message: "session refused: audit log unavailable", now: now)
            live?.endReason = "audit log unavailable"
        }
        logger.info("session started", metadata: ["session": "\(sessionID)", "target": "\(targetName)", "login": "\(login)"])
        return 0
    }

    private func openTargetChannel(_ upstream: UpstreamSession, kind: SessionKind) -> ssh_channel? {
        guard let targetChannel = ssh_channel_new(upstream.session) else { return nil }
        guard ssh_channel_open_session(targetChannel) == SSH_OK else {
            ssh_channel_free(targetChannel)
            return nil
        }
        // Before the exec request: a short command's exit-status can arrive together with
        // the request's reply, and libssh hands it to whatever callbacks are set by then
        // (set afterwards, `ssh … true` sometimes ended with no exit status: `ssh` exit 255).
        targetCallbacks.pointee.size = MemoryLayout<ssh_channel_callbacks_struct>.size
        targetCallbacks.pointee.userdata = userdata
        // Until the relay exists, the exit goes to `earlyTargetExit` and the relay picks it up.
        targetCallbacks.pointee.channel_exit_status_function = { _, _, status, userdata in
            let channel = SessionChannel.from(userdata)
            if let relay = channel.live?.relay { relay.ending.exitStatus = status } else { channel.earlyTargetExit.status = status }
        }
        targetCallbacks.pointee.channel_exit_signal_function = { _, _, signal, core, message, _, userdata in
            let name = signal.map { String(cString: $0) } ?? "KILL"
            let text = message.map { String(cString: $0) } ?? ""
            let channel = SessionChannel.from(userdata)
            if let relay = channel.live?.relay {
                relay.ending.exitSignal = ExitSignal(name: name, coreDumped: core != 0, message: text)
            } else {
                channel.earlyTargetExit.signal = ExitSignal(name: name, coreDumped: core != 0, message: text)
            }
        }
        ssh_set_channel_callbacks(targetChannel, targetCallbacks)
        if let pty = terminal, ssh_channel_request_pty_size(targetChannel, pty.term, pty.columns, pty.rows) != SSH_OK {
            ssh_channel_free(targetChannel)
            return nil
        }
        let rc: Int32 = switch kind {
        case .shell: ssh_channel_request_shell(targetChannel)
        case .exec(let command): ssh_channel_request_exec(targetChannel, command)
        case .subsystem(let name): ssh_channel_request_subsystem(targetChannel, name)
        }
        guard rc == SSH_OK else {
            ssh_channel_free(targetChannel)
            return nil
        }
        return targetChannel
    }

    // MARK: - Running

    /// One turn of the event loop for a live session: move bytes, check the recording, finish.
    func serviceLiveSession(event: ssh_event) {
        guard var session = live else { return }
        let now = services.clock.now()
        if !upstreamInEvent {
            ssh_event_add_session(event, session.relay.upstream.session)
            upstreamInEvent = true
        }
        session.relay.pump(now: now)
        if let tap = session.relay.fileTransfer {
            session.fileRecords += auditFileOperations(session.relay.takeFileOperations(), of: session, via: tap.via, policy: session.fileTransfer)
            if let error = session.relay.fileTransferError, !session.relay.isFinished {
                session.endReason = "file transfer protocol error: \(error)"
                session.relay.terminate(message: "file transfer protocol error; session closed", now: now)
            }
        }
        if let requests = session.relay.broadcast?.takeRequests() { obeyWatchers(requests, session: &session, now: now) }
        if now.timeIntervalSince(session.lastPolicyCheck) >= 1 {
            session.lastPolicyCheck = now
            if !session.relay.isFinished, let reason = recordingEnding(for: session) {
                session.endReason = reason.audit
                session.relay.terminate(message: reason.user, now: now)
            }
        }
        if !session.relay.upstream.isConnected, !session.relay.isFinished {
            session.endReason = "target closed the connection"
            session.relay.terminate(message: "connection to \(session.target) lost", now: now)
        }
        live = session
        if session.relay.isFinished {
            finishSession(event: event)
            closedAt = Date()
        }
    }

    /// Ends the relayed session for `reason`: its line to the user, then its close sequence.
    func terminate(_ reason: EnforcementReason, now: Date) {
        guard live != nil else { return }
        live?.endReason = reason.auditReason
        live?.relay.terminate(message: reason.userMessage, now: now)
    }

    /// Whether a failed recording ends the session (access itself is the enforcement
    /// point's, once a second for every connection: FrontDoorConnection+Enforcement).
    private func recordingEnding(for session: LiveSession) -> (user: String, audit: String)? {
        let settings = services.sessions.settings
        guard let failure = session.relay.recorder?.failure else { return nil }
        connection.audit(.recordingFailed, outcome: .failure, target: session.target, reason: "\(failure)", details: [
            "session_id": session.id.rawValue, "policy": settings.onRecordingFailure.rawValue,
        ])
        if settings.onRecordingFailure.failsClosed { return ("recording failed; session closed by policy", "recording failed") }
        live?.relay.recorder = nil
        return nil
    }

    /// Seals the recording and writes `session.end`.
    private func finishSession(event: ssh_event) {
        guard let session = live else { return }
        let now = services.clock.now()
        var details = [
            "session_id": session.id.rawValue, "login": session.login, "end_reason": session.endReason,
            "duration": String(format: "%.3f", now.timeIntervalSince(session.startedAt)),
            "bytes_up": String(session.relay.bytesUp), "bytes_down": String(session.relay.bytesDown),
        ]
        if let status = session.relay.ending.exitStatus { details["exit_status"] = String(status) }
        if let signal = session.relay.ending.exitSignal { details["exit_signal"] = signal.name }
        services.sessions.markers?.unregister(sessionID: session.id.rawValue)
        var fileRecords = session.fileRecords
        if let tap = session.relay.fileTransfer {
            fileRecords += auditFileOperations(session.relay.finishFileTransfer(), of: session, via: tap.via, policy: session.fileTransfer)
        }
        details[.fileOperations] = String(fileRecords)
        if let broadcast = session.relay.broadcast { services.sessions.broadcasts?.unregister(broadcast) }
        if let recorder = session.relay.recorder {
            do {
                let summary = try recorder.close()
                details["recording"] = summary.path
                details["recording_size"] = String(summary.size)
                details["recording_sha256"] = summary.sha256
                details["recording_plain_sha256"] = summary.plaintextSHA256
                details.merge(summary.streams) { current, _ in current }
            } catch {
                details["recording_error"] = "\(error)"
            }
        }
        details["elevation_request"] = session.grantID?.rawValue
        // The session has ended whatever the store says: its record and its row wait for the
        // store if it does not answer now (a database restart), in this order.
        let ended = connection.event(.sessionEnd, outcome: .success, target: session.target, reason: nil, details: details)
        let (audit, registry, id) = (services.audit, services.sessions.registry, session.id)
        services.sessions.afterTheFact.run("session.end \(id)") { try audit.append(ended) }
        services.sessions.afterTheFact.run("session \(id) ended") { try registry.markEnded(id: id, at: now) }
        if let elevation = services.sessions.elevation, let user = identity?.user.name.rawValue {
            let registry = services.sessions.registry
            elevation.sessionEnded(user: user, target: session.target) {
                (try? registry.liveSessions())?.contains { $0.user == user && $0.target == session.target } ?? true
            }
        }
        if upstreamInEvent {
            ssh_event_remove_session(event, session.relay.upstream.session)
            upstreamInEvent = false
        }
        ssh_channel_free(session.relay.target)
        session.relay.upstream.close()
        live = nil
        logger.info("session ended", metadata: ["session": "\(session.id)", "reason": "\(session.endReason)"])
    }

    /// Ends a session abandoned by a vanished client (the event loop is ending).
    func abandonSession(event: ssh_event?) {
        guard let session = live else { return }
        // Keep the reason if Bastion was already ending the session (it may be why the client left).
        if !session.relay.isFinished { live?.endReason = "client disconnected" }
        if let event { finishSession(event: event) }
    }

    // MARK: - Helpers

    /// A terminal dimension for the recording header; clients without a terminal send 0.
    static func dimension(_ value: Int32?, default fallback: Int) -> Int {
        guard let value, value > 0 else { return fallback }
        return Int(value)
    }
}
