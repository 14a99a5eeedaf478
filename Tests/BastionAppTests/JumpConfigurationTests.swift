import BastionApp
import BastionCore
import Testing

/// `ssh.public_address`: what `ssh-config` writes in `ProxyJump`.
@Suite("ssh.public_address")
struct JumpConfigurationTests {
    @Test("set: used as written; unset: the host of http.public_url with the port of ssh.listen")
    func publicAddress() throws {
        let set = try BastionConfiguration.parse("[ssh]\npublic_address = \"bastion.example.com:2222\"\n", file: "a.toml")
        #expect(set.sshPublicAddress == ListenAddress(host: "bastion.example.com", port: 2222))
        let derived = try BastionConfiguration.parse(
            "[ssh]\nlisten = \"0.0.0.0:2200\"\n[http]\npublic_url = \"http://bastion.example.org:8080\"\n", file: "b.toml"
        )
        #expect(derived.ssh.publicAddress == nil)
        #expect(derived.sshPublicAddress == ListenAddress(host: "bastion.example.org", port: 2200))
        #expect(throws: ConfigurationError.self) { try BastionConfiguration.parse("[ssh]\npublic_address = \"bastion:0\"\n", file: "c.toml") }
    }
}
