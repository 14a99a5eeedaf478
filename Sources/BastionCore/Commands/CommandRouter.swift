import Foundation

/// Runs the commands users send to Bastion itself; the domain side of an SSH exec or
/// shell request (no sockets: input is an identity and a command line, output is bytes).
public struct CommandRouter: Sendable {
    private let issuer: CertificateIssuer
    private let policy: Policy
    private let audit: any AuditEmitter
    private let clock: any WallClock

    public init(issuer: CertificateIssuer, policy: Policy, audit: any AuditEmitter, clock: any WallClock) {
        self.issuer = issuer
        self.policy = policy
        self.audit = audit
        self.clock = clock
    }

    public func run(commandLine: String?, as identity: AuthenticatedIdentity) -> CommandOutput {
        let now = clock.now()
        let command: BastionCommand
        do {
            command = try BastionCommand(commandLine: commandLine)
        } catch {
            try? audit.append(commandEvent(.commandDenied, name: commandLine ?? "", identity: identity, now: now, reason: error.message))
            return .failure(error.message, exitStatus: 2)
        }
        do {
            try audit.append(commandEvent(.commandRun, name: command.auditName, identity: identity, now: now, reason: nil))
        } catch {
            return .failure("internal failure; try again later")
        }
        switch command {
        case .menu, .whoami:
            return CommandOutput(stdout: WhoamiReport(identity: identity, now: now).text)
        case .help:
            return CommandOutput(stdout: Self.helpText)
        case .targets:
            return CommandOutput(stdout: TargetsReport(reachable: policy.reachableTargets(forRoles: identity.user.roles)).text)
        case .cert(let ttl):
            switch issuer.issue(for: identity, requestedTTL: ttl) {
            case .issued(let certificate, let note):
                return CommandOutput(
                    stdout: certificate.authorizedKeysLine + " " + identity.user.name.rawValue + "@bastion\n",
                    stderr: note.map { "bastion: \($0)\n" } ?? ""
                )
            case .refused(let message):
                return .failure(message)
            }
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
        To open a session on a target: ssh -p PORT LOGIN@TARGET@BASTION
          help                    this text

        """
}
