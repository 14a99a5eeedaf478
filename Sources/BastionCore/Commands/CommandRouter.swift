import Foundation

/// Runs the commands users send to Bastion itself; the domain side of an SSH exec or
/// shell request (no sockets: input is an identity and a command line, output is bytes).
public struct CommandRouter: Sendable {
    private let issuer: CertificateIssuer
    private let policySource: any PolicySource
    /// As the file says now (a reload may replace it between two calls).
    var policy: Policy { policySource.current }
    private let audit: any AuditEmitter
    let clock: any WallClock
    let elevation: ElevationService?
    let archive: (any SessionArchive)?
    let webSignIn: (any WebSignInIssuer)?
    let auditLog: any AuditEmitter
    /// The live sessions that can be watched (`watch ID`); nil: `watch` is not available.
    let broadcasts: LiveSessionBroadcasts?
    /// For `ssh-config` (read when it runs: the port may be known only once listening); nil:
    /// the command says it is not configured.
    let jump: (@Sendable () -> JumpConfig)?

    public init(
        issuer: CertificateIssuer, policy: any PolicySource, audit: any AuditEmitter, clock: any WallClock, elevation: ElevationService? = nil,
        archive: (any SessionArchive)? = nil, webSignIn: (any WebSignInIssuer)? = nil, broadcasts: LiveSessionBroadcasts? = nil,
        jump: (@Sendable () -> JumpConfig)? = nil
    ) {
        self.broadcasts = broadcasts
        self.jump = jump
        self.issuer = issuer
        self.policySource = policy
        self.audit = audit
        self.auditLog = audit
        self.clock = clock
        self.elevation = elevation
        self.archive = archive
        self.webSignIn = webSignIn
    }

    /// Runs a command that answers at once; conversations (`elevate`, `approve`) are refused.
    public func run(commandLine: String?, as identity: AuthenticatedIdentity) -> CommandOutput {
        switch start(commandLine: commandLine, as: identity) {
        case .output(let output): output
        case .conversation: .failure("this command needs a conversation")
        }
    }

    /// Runs a command: its output, or a conversation for the connection to carry on.
    public func start(commandLine: String?, as identity: AuthenticatedIdentity) -> CommandResult {
        let now = clock.now()
        let command: BastionCommand
        do {
            command = try BastionCommand(commandLine: commandLine)
        } catch {
            try? audit.append(commandEvent(.commandDenied, name: commandLine ?? "", identity: identity, now: now, reason: error.message))
            return .output(.failure(error.message, exitStatus: 2))
        }
        do {
            try audit.append(commandEvent(.commandRun, name: command.auditName, identity: identity, now: now, reason: nil))
        } catch {
            return .output(.failure("internal failure; try again later"))
        }
        switch command {
        case .menu, .whoami:
            return .output(CommandOutput(stdout: WhoamiReport(identity: identity, now: now).text))
        case .help:
            return .output(CommandOutput(stdout: Self.helpText))
        case .targets:
            return .output(CommandOutput(stdout: TargetsReport(reachable: policy.reachableTargets(forRoles: identity.user.roles)).text))
        case .sshConfig:
            guard let jump else { return .output(.failure("ssh-config: this bastion does not know its public address (ssh.public_address)")) }
            let key = switch identity.method {
            case .keyAndTOTP(let key): key
            case .certificate(let certificate): certificate.publicKey
            }
            return .output(CommandOutput(stdout: jump().sshConfig(
                user: identity.user.name, keyKind: key.kind, reachable: policy.reachableTargets(forRoles: identity.user.roles)
            )))
        case .cert(let ttl):
            switch issuer.issue(for: identity, requestedTTL: ttl) {
            case .issued(let certificate, let note):
                return .output(CommandOutput(
                    stdout: certificate.authorizedKeysLine + " " + identity.user.name.rawValue + "@bastion\n",
                    stderr: note.map { "bastion: \($0)\n" } ?? ""
                ))
            case .refused(let message):
                return .output(.failure(message))
            }
        case .elevate, .drop, .requests, .decide:
            guard let elevation else { return .output(.failure("elevation is not available")) }
            return runElevation(command, service: elevation, identity: identity, now: now)
        case .sessions, .replay, .web:
            guard policy.isAuditor(roles: identity.user.roles) else {
                try? audit.append(commandEvent(.commandDenied, name: command.auditName, identity: identity, now: now, reason: "not an auditor"))
                return .output(.failure("\(command.auditName): for auditors only (a role with audit = true)"))
            }
            guard let archive else { return .output(.failure("\(command.auditName): recordings are not available")) }
            switch command {
            case .sessions(let ask): return runSessions(ask, identity: identity, archive: archive, now: now)
            case .replay(let ask): return runReplay(ask, identity: identity, archive: archive, now: now)
            default: return runWeb(identity: identity, now: now)
            }
        case .watch(let ask):
            // Permission is decided per session (auditors, the approvers of its grant).
            guard broadcasts != nil else { return .output(.failure("watch: live sessions cannot be watched here")) }
            return runWatch(ask, identity: identity, now: now)
        case .liveSessions:
            guard broadcasts != nil else { return .output(.failure("watch: live sessions cannot be watched here")) }
            return .output(CommandOutput(stdout: liveSessionList(identity: identity)))
        }
    }

    /// `sessions …`: the catalog, filtered; audited with the query and the number of results.
    private func runSessions(_ ask: BastionCommand.SessionsAsk, identity: AuthenticatedIdentity, archive: any SessionArchive, now: Date) -> CommandResult {
        var query = SessionQuery(user: ask.user, target: ask.target, grep: ask.grep)
        for (text, name) in [(ask.since, "--since"), (ask.until, "--until")] {
            guard let text else { continue }
            guard let date = TimeBound.parse(text, now: now) else {
                return .output(.failure("sessions: invalid \(name) '\(text)' (use 7d, 2026-11-01 or 2026-11-01T09:00:00Z)", exitStatus: 2))
            }
            if name == "--since" { query.since = date } else { query.until = date }
        }
        let found: [IndexedSession]
        do { found = try archive.search(query) } catch { return .output(.failure("internal failure; try again later")) }
        var details = ["via": "ssh", "results": String(found.count)]
        details["query"] = [ask.user.map { "user=\($0)" }, ask.target.map { "target=\($0)" }, ask.since.map { "since=\($0)" },
            ask.until.map { "until=\($0)" }, ask.grep.map { "grep=\($0)" }].compactMap { $0 }.joined(separator: " ")
        do {
            try audit.append(AuditEvent(
                type: .sessionSearch, time: now, actor: identity.auditActor,
                connection: identity.connection.auditConnection(sshUsername: identity.user.name.rawValue), details: details
            ))
        } catch {
            return .output(.failure("internal failure; try again later"))
        }
        var files: [SessionID: [SessionFileOperation]] = [:]
        for session in found.prefix(200) {
            if let operations = try? archive.fileOperations(of: session.id), !operations.isEmpty { files[session.id] = operations }
        }
        return .output(CommandOutput(stdout: SessionListReport(sessions: found, grep: ask.grep, files: files).text))
    }

    private func runElevation(_ command: BastionCommand, service: ElevationService, identity: AuthenticatedIdentity, now: Date) -> CommandResult {
        let caller = ElevationService.Caller(
            actor: identity.auditActor, connection: identity.connection.auditConnection(sshUsername: identity.user.name.rawValue), via: "ssh"
        )
        switch command {
        case .elevate(let ask):
            return .conversation(ElevateConversation(ask: ask, identity: identity, service: service, caller: caller))
        case .decide(let id, let approve, let comment):
            return .conversation(DecisionConversation(id: id, approve: approve, comment: comment, identity: identity, service: service, caller: caller))
        case .drop(let id):
            switch service.drop(id: id, by: identity.user.name, caller: caller) {
            case .success(let request): return .output(CommandOutput(stdout: "grant \(request.id) ended (\(request.login) on \(request.target))\n"))
            case .failure(let refusal): return .output(.failure(refusal.description))
            }
        case .requests(let pending):
            do {
                let requests = pending ? try service.pending(decidableBy: identity.user) : try service.requests(of: identity.user.name)
                return .output(CommandOutput(stdout: ElevationReport(requests: requests, pending: pending, now: now).text))
            } catch {
                return .output(.failure("internal failure; try again later"))
            }
        default:
            return .output(.failure("internal failure; try again later"))
        }
    }

    private func commandEvent(_ type: AuditEventType, name: String, identity: AuthenticatedIdentity, now: Date, reason: String?) -> AuditEvent {
        AuditEvent(
            type: type, time: now, outcome: reason == nil ? .success : .failure, actor: identity.auditActor,
            connection: identity.connection.auditConnection(sshUsername: identity.user.name.rawValue),
            reason: reason, details: ["command": String(name.prefix(200))]
        )
    }

    static let helpText = """
        Bastion commands (ssh -p PORT USER@BASTION COMMAND):
          cert [--ttl DURATION]   print a short-lived certificate for the key you logged in with
                                  (needs key + TOTP; save it as ~/.ssh/id_ed25519-cert.pub)
          whoami                  who you are, your roles, how you authenticated
          targets                 the targets you may reach, with the logins allowed
          ssh-config              ~/.ssh/config blocks for your targets (ssh TARGET through ssh -J)
          elevate TARGET --reason TEXT [--login LOGIN] [--for DURATION] [--no-wait]
                                  ask a second engineer for a privileged login (default root)
                                  or sudo on TARGET; waits for the decision (Ctrl-C withdraws)
          elevate --drop ID       end your grant early
          requests [--pending]    your requests, or (--pending) those you may decide
          approve ID [--comment TEXT]
          deny ID --reason TEXT   decide someone else's request (asks for a fresh TOTP code)
        Auditors (a role with audit = true):
          sessions [--user U] [--target T] [--since 7d] [--until TIME] [--grep TEXT]
                                  ended sessions, newest first; --grep searches what they printed
          replay ID [--speed 2] [--idle-limit 1] [--from 00:03:10] [--raw] [--force]
                                  play a recording (space pause, +/- speed, ] next marker, q quit);
                                  --raw streams the .cast file for asciinema play
          web                     a one-minute sign-in link for the web view
          watch                   the live sessions you may watch
          watch ID [--terminate --reason TEXT]
                                  follow a live session read-only (q leaves), or end it;
                                  also for the approvers of the session's elevation grant
        To open a session on a target: ssh -p PORT LOGIN@TARGET@BASTION
          help                    this text

        """
}
