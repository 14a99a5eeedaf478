import ArgumentParser
import BastionApp
import BastionCore
import Foundation

/// `bastiond ca show`: the public halves of Bastion's CAs.
struct CAShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print both CA public keys.")

    @OptionGroup var options: ConfigOption
    @Flag(help: "Print only the known_hosts line for ssh -J through Bastion (every target's name, Bastion's host key).")
    var knownHosts = false

    struct Group: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "ca", abstract: "Bastion's certificate authorities.", subcommands: [CAShow.self, CARotate.self]
        )
    }

    func run() throws {
        let environment = try Startup.open(options.config)
        if knownHosts {
            // No @cert-authority line: libssh 0.10.6's server cannot present host certificates
            // (JumpConfig), so the jump server presents Bastion's host key under each target's name.
            let line = JumpConfig.knownHostsLine(
                hostKey: environment.keys.hostPublicKey, targets: Array(environment.policy.current.targets.values)
            )
            guard !line.isEmpty else { throw Refusal(message: "ca show --known-hosts: no targets are declared") }
            print(line)
            return
        }
        let now = environment.clock.now()
        print("# user CA: signs engineers' certificates; trusted only by Bastion itself")
        Self.show(environment.keys.userAuthorityKeys, comment: "bastion-user-ca", now: now)
        print("# upstream CA: signs per-session certificates; install on targets as TrustedUserCAKeys")
        Self.show(environment.keys.upstreamAuthorityKeys, comment: "bastion-upstream-ca", now: now)
    }

    /// The published keys; during a rotation both, each with what it does when.
    static func show(_ keys: AuthorityKeys, comment: String, now: Date) {
        let published = keys.published(at: now)
        if published.count > 1, let next = keys.next {
            print("#   rotating: the first key signs until \(AuditEvent.timestamp(next.signsFrom)), the second from then on")
        }
        for key in published { print(key.authorizedKeysLine + " " + comment) }
    }
}

/// `bastiond ca rotate user|upstream`: the CA's next key now, signing after `--overlap`.
struct CARotate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate", abstract: "Make a CA's next key; it signs after the overlap, and the old key is dropped then (audited)."
    )

    @OptionGroup var options: ConfigOption
    @Argument(help: "user or upstream.") var authority: String
    @Option(help: "How long both keys are published before the next one signs (default: ca.overlap, 24h).") var overlap: String?

    func run() throws {
        guard let which = CAAuthority(rawValue: authority) else { throw ValidationError("the authority is user or upstream") }
        let environment = try Startup.open(options.config)
        var seconds = environment.configuration.ca.overlap
        if let overlap {
            do { seconds = try DurationText.parse(overlap) } catch { throw ValidationError("--overlap: \(error)") }
        }
        let rotated: (key: SSHPublicKey, signsFrom: Date)
        do {
            rotated = try CARotation(environment: environment, actor: AuditCommand.auditor).rotate(which, overlap: seconds)
        } catch {
            throw Refusal(message: "ca rotate: \(error)")
        }
        print("# the \(which.rawValue) CA's next key; it signs from \(AuditEvent.timestamp(rotated.signsFrom))")
        print(rotated.key.authorizedKeysLine + " bastion-\(which.rawValue)-ca")
        if which == .upstream {
            print("# install it on every target now, beside the current one (bastiond target setup prints both)")
        }
    }
}
