import BastionApp
import BastionSSH
import Testing

/// `ssh.kex_algorithms`, `ssh.ciphers`, `ssh.macs`: hardened defaults, FIPS curves on request,
/// SHA-1, CBC and unknown names refused at start with file, line and key.
@Suite("Algorithm configuration")
struct AlgorithmConfigurationTests {
    @Test("the defaults offer no NIST curve, no SHA-1, no CBC and encrypt-then-MAC only")
    func hardenedDefaults() throws {
        let defaults = try BastionConfiguration.parse("", file: "t.toml").ssh.algorithms
        #expect(defaults == SSHAlgorithms.defaults)
        #expect(defaults.keyExchange == ["curve25519-sha256", "curve25519-sha256@libssh.org", "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512"])
        #expect(!defaults.keyExchange.contains { $0.contains("nistp") || $0.contains("sha1") })
        #expect(defaults.ciphers.allSatisfy { $0.hasSuffix("-ctr") || $0.contains("gcm") || $0.contains("poly1305") })
        #expect(defaults.macs.allSatisfy { $0.hasSuffix("-etm@openssh.com") })
    }

    @Test("a site may offer the FIPS curves and encrypt-and-MAC SHA-2")
    func fipsCurves() throws {
        let text = """
            [ssh]
            kex_algorithms = ["ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "curve25519-sha256"]
            ciphers = ["aes256-gcm@openssh.com", "aes128-ctr"]
            macs = ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-256"]
            """
        let algorithms = try BastionConfiguration.parse(text, file: "t.toml").ssh.algorithms
        #expect(algorithms.keyExchange == ["ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "curve25519-sha256"])
        #expect(algorithms.ciphers == ["aes256-gcm@openssh.com", "aes128-ctr"])
        #expect(algorithms.macs == ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-256"])
    }

    @Test(
        "SHA-1, CBC, none and unknown names are refused, naming file, line and key",
        arguments: [
            ("kex_algorithms", "diffie-hellman-group14-sha1", "SHA-1"),
            ("kex_algorithms", "diffie-hellman-group1-sha1", "SHA-1"),
            ("kex_algorithms", "diffie-hellman-group-exchange-sha256", "refused"),
            ("kex_algorithms", "sntrup761x25519-sha512@openssh.com", "unknown key exchange algorithm"),
            ("ciphers", "aes128-cbc", "CBC"),
            ("ciphers", "3des-cbc", "CBC"),
            ("ciphers", "none", "refused"),
            ("ciphers", "aes128-gcm", "unknown cipher"),
            ("macs", "hmac-sha1", "SHA-1"),
            ("macs", "hmac-sha1-etm@openssh.com", "SHA-1"),
            ("macs", "hmac-md5", "unknown MAC"),
        ]
    )
    func refused(key: String, name: String, reason: String) {
        do {
            let configuration = try BastionConfiguration.parse("# site policy\n[ssh]\n\(key) = [\"\(name)\"]\n", file: "site.toml")
            Issue.record("accepted \(name): \(configuration.ssh.algorithms)")
        } catch {
            #expect(error.file == "site.toml")
            #expect(error.line == 3)
            #expect(error.key == "ssh.\(key)")
            #expect(error.reason.contains(reason), "\(error)")
        }
    }

    @Test("an empty list is refused")
    func emptyList() {
        #expect(throws: ConfigurationError.self) { try BastionConfiguration.parse("[ssh]\nmacs = []\n", file: "t.toml") }
    }
}
