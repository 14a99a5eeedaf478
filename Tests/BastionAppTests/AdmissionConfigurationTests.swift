import BastionApp
import BastionCore
import Testing

/// `ssh.max_startups`, `ssh.per_source_max_startups`, `ssh.penalties`, `ssh.penalty_exempt` and
/// the retired `ssh.max_connections_per_source`.
@Suite("Admission configuration")
struct AdmissionConfigurationTests {
    @Test("defaults serve a burst of 200 from one address and bound handshakes")
    func defaults() throws {
        let ssh = try BastionConfiguration.parse("", file: "t.toml").ssh
        #expect(ssh.admission.start == 64 && ssh.admission.full == 4096 && ssh.admission.perSource == 256)
        #expect(ssh.penalties == .defaults)
        #expect(ssh.notices.isEmpty)
    }

    @Test("sshd's forms load")
    func sshdForms() throws {
        let text = """
            [ssh]
            max_startups = "10:30:100"
            per_source_max_startups = 20
            penalties = "authfail:1m noauth:2s min:30s max:1h"
            penalty_exempt = ["10.0.0.0/8", "192.0.2.7"]
            """
        let ssh = try BastionConfiguration.parse(text, file: "t.toml").ssh
        #expect((ssh.admission.start, ssh.admission.rate, ssh.admission.full, ssh.admission.perSource) == (10, 30, 100, 20))
        #expect(ssh.penalties.durations[.authFail] == 60 && ssh.penalties.durations[.noAuth] == 2 && ssh.penalties.durations[.malformed] == 30)
        #expect(ssh.penalties.minimum == 30 && ssh.penalties.maximum == 3600)
        #expect(ssh.penalties.exempt?.contains(address: "10.1.2.3") == true)
        #expect(ssh.penalties.exempt?.contains(address: "192.0.2.8") == false)
    }

    @Test("the retired max_connections_per_source loads as per_source_max_startups, with a notice")
    func deprecatedAlias() throws {
        let ssh = try BastionConfiguration.parse("[ssh]\nmax_connections_per_source = 1000\n", file: "t.toml").ssh
        #expect(ssh.admission.perSource == 1000)
        #expect(ssh.notices.count == 1)
        #expect(ssh.notices.first?.contains("ssh.max_connections_per_source is deprecated") == true)
    }

    @Test(
        "bad values name file, line and key",
        arguments: [
            ("max_startups = \"10:30\"", "ssh.max_startups", "START:RATE:FULL"),
            ("max_startups = \"100:30:10\"", "ssh.max_startups", "FULL"),
            ("max_startups = \"0\"", "ssh.max_startups", "START"),
            ("per_source_max_startups = 0", "ssh.per_source_max_startups", "1"),
            ("penalties = \"crash:90s\"", "ssh.penalties", "unknown penalty"),
            ("penalties = \"min:1h max:1m\"", "ssh.penalties", "max must be at least min"),
            ("penalty_exempt = [\"10.0.0.1/8\"]", "ssh.penalty_exempt", "no host bits"),
        ]
    )
    func refused(line: String, key: String, reason: String) {
        do {
            _ = try BastionConfiguration.parse("# x\n[ssh]\n\(line)\n", file: "b.toml")
            Issue.record("accepted \(line)")
        } catch {
            #expect(error.file == "b.toml" && error.line == 3 && error.key == key, "\(error)")
            #expect(error.reason.contains(reason), "\(error)")
        }
    }
}

extension AdmissionConfigurationTests {
    @Test("ssh.trusted_proxies: none by default; CIDR blocks; bad blocks name the line")
    func trustedProxies() throws {
        #expect(try BastionConfiguration.parse("", file: "t.toml").ssh.trustedProxies == nil)
        let ssh = try BastionConfiguration.parse("[ssh]\ntrusted_proxies = [\"10.0.0.2/32\", \"fd00::/8\"]\n", file: "t.toml").ssh
        #expect(ssh.trustedProxies?.contains(address: "10.0.0.2") == true)
        #expect(ssh.trustedProxies?.contains(address: "10.0.0.3") == false)
        #expect(throws: ConfigurationError(
            file: "t.toml", line: 2, key: "ssh.trusted_proxies",
            reason: "\"haproxy\" is not an address or CIDR block (like 10.0.0.0/8; no host bits below the prefix)"
        )) {
            try BastionConfiguration.parse("[ssh]\ntrusted_proxies = [\"haproxy\"]\n", file: "t.toml")
        }
    }
}

extension AdmissionConfigurationTests {
    @Test("http.trusted_proxies: none by default; CIDR blocks; bad blocks name the line")
    func httpTrustedProxies() throws {
        #expect(try BastionConfiguration.parse("", file: "t.toml").http.trustedProxies == nil)
        let http = try BastionConfiguration.parse("[http]\ntrusted_proxies = [\"127.0.0.1/32\"]\n", file: "t.toml").http
        #expect(http.trustedProxies?.contains(address: "127.0.0.1") == true)
        #expect(http.trustedProxies?.contains(address: "127.0.0.5") == false)
        #expect(throws: ConfigurationError(
            file: "t.toml", line: 3, key: "http.trusted_proxies",
            reason: "\"10.0.0.1/8\" is not an address or CIDR block (like 10.0.0.0/8; no host bits below the prefix)"
        )) {
            try BastionConfiguration.parse("[http]\nlisten = \"127.0.0.1:8080\"\ntrusted_proxies = [\"10.0.0.1/8\"]\n", file: "t.toml")
        }
    }
}
