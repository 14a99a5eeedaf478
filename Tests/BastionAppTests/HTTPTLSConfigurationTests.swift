import BastionApp
import BastionCore
import BastionCrypto
import Foundation
import Testing

/// `[http]` TLS keys: what parses, and every refusal naming its key and line.
@Suite("HTTP TLS configuration")
struct HTTPTLSConfigurationTests {
    func expectError(_ text: String, key: String, line: Int?, reason: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let configuration = try BastionConfiguration.parse(text, file: "test.toml")
            Issue.record("parsed without error: \(configuration.http)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.key == key && error.line == line, "\(error)", sourceLocation: sourceLocation)
            #expect(error.reason.contains(reason), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("tls_cert and tls_key with an https public_url: TLS 1.3 by default, 1.2 on request, client_ca optional")
    func parses() throws {
        let plain = try BastionConfiguration.parse("", file: "t.toml")
        #expect(plain.http.tls == nil)
        let text = """
            [http]
            public_url = "https://bastion.example"
            tls_cert = "/etc/bastion/http.pem"
            tls_key = "/etc/bastion/http.key"
            """
        let tls = try #require(try BastionConfiguration.parse(text, file: "t.toml").http.tls)
        #expect(tls == .init(certificate: "/etc/bastion/http.pem", key: "/etc/bastion/http.key", minimumVersion: .tls13, clientCA: nil))
        let legacy = try #require(try BastionConfiguration.parse(text + "\ntls_min = \"1.2\"\nclient_ca = \"/etc/bastion/targets-ca.pem\"\n", file: "t.toml").http.tls)
        #expect(legacy.minimumVersion == .tls12 && legacy.clientCA == "/etc/bastion/targets-ca.pem")
        // Behind a TLS-terminating proxy: https public_url without TLS here.
        let proxied = try BastionConfiguration.parse("[http]\npublic_url = \"https://bastion.example\"\ntrusted_proxies = [\"10.0.0.0/8\"]\n", file: "t.toml")
        #expect(proxied.http.tls == nil)
    }

    @Test("refusals name the key and line")
    func refusals() {
        expectError("[http]\npublic_url = \"https://bastion.example\"\n", key: "http.public_url", line: 2, reason: "https:// needs http.tls_cert and http.tls_key")
        let both = "[http]\npublic_url = \"https://b.example\"\ntls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"\n"
        for version in ["1.0", "1.1", "1", "TLSv1.3", "1.4"] {
            expectError(both + "tls_min = \"\(version)\"\n", key: "http.tls_min", line: 5, reason: "must be \"1.3\" or \"1.2\"")
        }
        expectError("[http]\npublic_url = \"https://b.example\"\ntls_cert = \"/c.pem\"\n", key: "http.tls_cert", line: 3, reason: "needs http.tls_key")
        expectError("[http]\npublic_url = \"https://b.example\"\ntls_key = \"/k.pem\"\n", key: "http.tls_key", line: 3, reason: "needs http.tls_cert")
        expectError("[http]\ntls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"\n", key: "http.public_url", line: 1, reason: "must be https://")
        expectError("[http]\npublic_url = \"http://b.example\"\ntls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"\n", key: "http.public_url", line: 2, reason: "must be https://")
        expectError("[http]\nclient_ca = \"/ca.pem\"\n", key: "http.client_ca", line: 2, reason: "needs http.tls_cert")
        expectError("[http]\ntls_min = \"1.2\"\n", key: "http.tls_min", line: 2, reason: "needs http.tls_cert")
        expectError(both.replacingOccurrences(of: "\"/c.pem\"", with: "\"\""), key: "http.tls_cert", line: 3, reason: "must not be empty")
    }

    @Test("SIGHUP: the TLS files reload in place while TLS stays on; turning TLS or client_ca on or off waits for a restart")
    func reloadPlan() throws {
        let base = "[http]\npublic_url = \"https://b.example\"\ntls_cert = \"/c.pem\"\ntls_key = \"/k.pem\"\n"
        func plan(_ old: String, _ new: String) throws -> ReloadPlan {
            ReloadPlan(from: try BastionConfiguration.parse(old, file: "old.toml"), to: try BastionConfiguration.parse(new, file: "new.toml"))
        }
        let same = try plan(base, base)
        #expect(same.reloadsTLS && same.restartNeeded.isEmpty && same.details["http_tls"] == "reloaded")
        let moved = try plan(base, base.replacingOccurrences(of: "/c.pem", with: "/c2.pem") + "tls_min = \"1.2\"\n")
        #expect(moved.reloadsTLS && moved.restartNeeded.isEmpty)
        let mutual = try plan(base, base + "client_ca = \"/ca.pem\"\n")
        #expect(!mutual.reloadsTLS && mutual.restartNeeded == ["[http]"])
        let off = try plan(base, "")
        #expect(!off.reloadsTLS && off.restartNeeded == ["[http]"])
        let listener = try plan(base, base.replacingOccurrences(of: "[http]\n", with: "[http]\nlisten = \"127.0.0.1:8443\"\n"))
        #expect(listener.reloadsTLS && listener.restartNeeded == ["[http]"])
    }
}
