import BastionCore
import BastionCrypto
import Foundation
import Testing

/// The pure parts of `ssh -J`: which destinations are targets, who may log in inside a jump,
/// and what `ssh-config` and `ca show --known-hosts` print.
@Suite("Jump (ssh -J)")
struct JumpUnitTests {
    static let policy = Policy(targets: [
        "web01": TargetDefinition(name: "web01", host: "10.0.0.5", hostKey: "ssh-ed25519 AAAA"),
        "db01": TargetDefinition(name: "db01", host: "10.0.0.9", port: 2200, hostKey: "ssh-ed25519 AAAA"),
    ])

    @Test("a target's name on 22 or its own port, or its address and port, is a jump; anything else is not")
    func jumpTargets() {
        #expect(Self.policy.jumpTarget(host: "web01", port: 22)?.name == "web01")
        #expect(Self.policy.jumpTarget(host: "WEB01", port: 22)?.name == "web01")
        #expect(Self.policy.jumpTarget(host: "db01", port: 22)?.name == "db01")
        #expect(Self.policy.jumpTarget(host: "db01", port: 2200)?.name == "db01")
        #expect(Self.policy.jumpTarget(host: "10.0.0.9", port: 2200)?.name == "db01")
        #expect(Self.policy.jumpTarget(host: "web01", port: 5432) == nil)
        #expect(Self.policy.jumpTarget(host: "10.0.0.9", port: 22) == nil)
        #expect(Self.policy.jumpTarget(host: "10.0.0.7", port: 22) == nil)
    }

    @Test("the known_hosts line names every target as a client looks it up")
    func knownHostsLine() throws {
        let key = SSHPublicKey(ed25519: try Ed25519PrivateKey().publicKey)
        let line = JumpConfig.knownHostsLine(hostKey: key, targets: Array(Self.policy.targets.values))
        #expect(line == "db01,[db01]:2200,[10.0.0.9]:2200,web01,10.0.0.5 \(key.authorizedKeysLine)")
        #expect(JumpConfig.knownHostsLine(hostKey: key, targets: []) == "")
    }

    @Test("ssh-config: a Host block per reachable target with ProxyJump, User, CertificateFile and the host key")
    func sshConfig() throws {
        let key = SSHPublicKey(ed25519: try Ed25519PrivateKey().publicKey)
        let jump = JumpConfig(host: "bastion.example", port: 2222, hostKey: key)
        let text = jump.sshConfig(
            user: try #require(UserName("alice")), keyKind: .ed25519,
            reachable: [(Self.policy.targets["web01"]!, ["deploy", "root*"])]
        )
        #expect(text.contains("Host web01\n    HostName web01\n    User deploy\n"))
        #expect(text.contains("    # other logins: root (ssh LOGIN@web01)\n"))
        #expect(text.contains("    ProxyJump alice@bastion.example:2222\n"))
        #expect(text.contains("    KnownHostsCommand /bin/echo %H \(key.authorizedKeysLine)\n"))
        #expect(text.contains("    CertificateFile ~/.ssh/id_ed25519-cert.pub\n"))
        #expect(JumpConfig.certificateFile(for: .ecdsa(curve: "nistp256")) == "~/.ssh/id_ecdsa-cert.pub")
        #expect(JumpConfig.certificateFile(for: .rsa(bits: 3072)) == "~/.ssh/id_rsa-cert.pub")
        #expect(!text.contains("db01"))
        let none = jump.sshConfig(user: try #require(UserName("alice")), keyKind: .ed25519, reachable: [])
        #expect(none.contains("no targets"))
        #expect(JumpConfig(host: "2001:db8::1", port: 22, hostKey: key).sshConfig(
            user: try #require(UserName("alice")), keyKind: .ed25519, reachable: [(Self.policy.targets["web01"]!, ["root"])]
        ).contains("ProxyJump alice@[2001:db8::1]:22"))
    }

    @Test("ssh-config parses without arguments only")
    func parse() throws {
        #expect(try BastionCommand(commandLine: "ssh-config") == .sshConfig)
        #expect(throws: BastionCommand.ParseError.self) { try BastionCommand(commandLine: "ssh-config web01") }
    }
}
