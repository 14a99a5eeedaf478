import ArgumentParser
import BastionApp
import BastionCore
import BastionSSH
import Foundation

/// `bastiond target …`: the operator's tools for target hosts: check a pinned host key,
/// scan a host for the key to pin, print the sshd setup that makes a host trust Bastion, and
/// print the token its sudo check presents.
struct TargetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "target",
        abstract: "Target hosts: check pinned host keys, scan keys to pin, print sshd setup and sudo-check tokens.",
        subcommands: [Check.self, Scan.self, Setup.self, Token.self]
    )

    /// Path of the CA file and principals directory on a target, as `setup` prints them.
    static let caFile = "/etc/ssh/bastion_upstream_ca.pub"
    static let principalsDirectory = "/etc/ssh/auth_principals"
    /// Where the sudo check reads its settings on a target (Config/target/README.md).
    static let sudoCheckConfFile = "/etc/bastion/sudo-check.conf"

    static func printError(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Connect to a configured target and compare its host key with the pinned one.",
            discussion: "Exit status 0 when the key matches, 1 on a mismatch or when the target is unreachable."
        )
        @OptionGroup var options: ConfigOption
        @Argument(help: "Target name, as in [targets.NAME].") var name: String
        @Option(help: "Seconds allowed for connect and key exchange.") var timeout: Int = 10

        func run() throws {
            let configuration = try Startup.loadConfiguration(options.config)
            guard let target = configuration.policy.targets[name] else {
                let known = configuration.policy.targets.keys.sorted()
                throw Refusal(message: "unknown target \"\(name)\"; configured targets: \(known.isEmpty ? "none" : known.joined(separator: ", "))")
            }
            let pinned: SSHPublicKey
            do {
                pinned = try SSHPublicKey(authorizedKeysLine: target.hostKey)
            } catch {
                throw Refusal(message: "target \(name): invalid host_key: \(error)")
            }
            let address = ListenAddress(host: target.host, port: target.port)
            do throws(UpstreamError) {
                try HostKeyScanner.check(
                    host: target.host, port: target.port, pinned: pinned, timeout: TimeInterval(timeout), algorithms: configuration.ssh.algorithms
                )
                print("\(name) (\(address)): pinned host key matches (\(pinned.displayType) \(pinned.fingerprint))")
            } catch where error.code == .hostKeyMismatch {
                let presented = error.presentedHostKey.map { "\($0.displayType) \($0.fingerprint)" } ?? error.detail
                TargetCommand.printError("host key MISMATCH for \(name) (\(address)): pinned \(pinned.displayType) \(pinned.fingerprint), presented \(presented)")
                TargetCommand.printError("Bastion refuses to relay to \(name). If the host was reinstalled, verify the new key out of band, then update host_key.")
                throw ExitCode(1)
            } catch {
                TargetCommand.printError("\(name) unreachable (\(address)): \(error.detail)")
                throw ExitCode(1)
            }
        }
    }

    struct Scan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a host's keys as host_key lines to pin (verify the fingerprint out of band first)."
        )
        @Argument(help: "HOST or HOST:PORT ([IPv6]:PORT); the port defaults to 22.") var address: String
        @Option(help: "Seconds allowed for connect and key exchange.") var timeout: Int = 10

        func run() throws {
            let target = try Self.parse(address)
            let keys: [SSHPublicKey]
            do throws(UpstreamError) {
                keys = try HostKeyScanner.scan(host: target.host, port: target.port, timeout: TimeInterval(timeout))
            } catch {
                TargetCommand.printError("\(target) unreachable: \(error.detail)")
                throw ExitCode(1)
            }
            print("# Host keys presented by \(target). Before pinning, compare the fingerprint with the one")
            print("# shown on the target itself (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), over a")
            print("# channel you trust: this scan cannot tell the real host from an impostor.")
            for (index, key) in keys.enumerated() {
                print("# \(key.displayType) \(key.fingerprint)")
                // Pin one key per target; the preferred one is first, the others are alternatives.
                print("\(index == 0 ? "" : "# ")host_key = \"\(key.authorizedKeysLine)\"")
            }
        }

        static func parse(_ text: String) throws -> ListenAddress {
            if let address = ListenAddress(text), address.port != 0 { return address }
            // No port: a host name, an IPv4 address, or an IPv6 address with or without brackets.
            let bare = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
            if let address = ListenAddress(bare.contains(":") ? "[\(bare)]:22" : "\(bare):22") { return address }
            throw Refusal(message: "invalid address \"\(text)\": expected HOST or HOST:PORT, like 10.0.0.5:22 or [2001:db8::5]:22")
        }
    }

    struct Setup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the sshd_config lines and the CA key that make a target trust Bastion's sessions."
        )
        @OptionGroup var options: ConfigOption

        func run() throws {
            let environment = try Startup.open(options.config)
            let published = environment.keys.upstreamAuthorityKeys.published(at: environment.clock.now())
            let caLines = published.map { $0.authorizedKeysLine + " bastion-upstream-ca" }.joined(separator: "\n")
            let rotating = published.count > 1
                ? "\n# The upstream CA is rotating: both keys are listed; install both until the old one is dropped.\n" : ""
            print("""
            # Target host setup for Bastion.
            #
            # Bastion reaches targets with a fresh key per session and a certificate from its
            # upstream CA, valid for two minutes, whose only principal is the login and whose key ID
            # names the Bastion user and session (sshd logs it as "Accepted certificate ID").
            #
            # 1. Install the upstream CA public key as \(TargetCommand.caFile):

            \(caLines)\(rotating)

            # 2. For each login Bastion may use, list the accepted principal (the login itself), e.g.
            #      mkdir -p \(TargetCommand.principalsDirectory)
            #      echo deploy > \(TargetCommand.principalsDirectory)/deploy
            #    Without a file for a login, sshd accepts no certificate for it.
            #
            # 3. Add to /etc/ssh/sshd_config, then check with `sshd -t` and reload sshd:

            TrustedUserCAKeys \(TargetCommand.caFile)
            AuthorizedPrincipalsFile \(TargetCommand.principalsDirectory)/%u
            # Log the certificate ID and serial of every login (default INFO logs less).
            LogLevel VERBOSE

            # Optional hardening: only Bastion's certificates get in (no personal keys, no passwords).
            # Keep another way in (console) before enabling these.
            #AuthorizedKeysFile none
            #PasswordAuthentication no
            #KbdInteractiveAuthentication no

            # 4. Pin the target's host key in bastiond's configuration: `bastiond target scan HOST`
            #    prints the line, `bastiond target check NAME` verifies it.
            #
            # 5. Optional: sudo only with a second engineer's approval. Install the files of
            #    Config/target/ (bastion-sudo-check, pam.d/bastion-sudo, sudoers.d/bastion; see its
            #    README.md), then write \(TargetCommand.sudoCheckConfFile) (0600 root) with what
            #    `bastiond target token NAME` prints: the target's own token.
            """)
        }
    }

    struct Token: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the sudo-check settings (with the target's token) to install on a target.",
            discussion: """
            The token is derived from the master key, the target's name and its token_epoch: \
            bump token_epoch in [targets.NAME] to rotate it. Install the output as \(TargetCommand.sudoCheckConfFile), \
            owned by root, mode 0600.
            """
        )
        @OptionGroup var options: ConfigOption
        @Argument(help: "Target name, as in [targets.NAME].") var name: String
        @Flag(help: "Print only the token.") var tokenOnly = false

        func run() throws {
            let environment = try Startup.open(options.config)
            let configuration = environment.configuration
            guard let target = configuration.policy.targets[name] else {
                let known = configuration.policy.targets.keys.sorted()
                throw Refusal(message: "unknown target \"\(name)\"; configured targets: \(known.isEmpty ? "none" : known.joined(separator: ", "))")
            }
            let token = environment.targetTokens.token(for: target)
            if tokenOnly {
                print(token)
                return
            }
            print("""
            # \(TargetCommand.sudoCheckConfFile) on \(name) (token_epoch \(target.tokenEpoch)); root:root, mode 0600:
            #   install -d -m 0755 /etc/bastion && install -m 0600 /dev/stdin \(TargetCommand.sudoCheckConfFile)
            BASTION_URL=\(configuration.http.publicURL)
            TARGET=\(name)
            TOKEN=\(token)
            # Seconds sudo waits for a second engineer's approval (elevation.sudo_wait).
            WAIT=\(Int(configuration.elevation.sudoWait))
            # CA_FILE=/etc/bastion/ca.pem
            """)
        }
    }
}
