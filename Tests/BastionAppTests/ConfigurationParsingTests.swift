import BastionApp
import BastionCore
import BastionCrypto
import Foundation
import Testing

@Suite("Configuration parsing")
struct ConfigurationParsingTests {
    static let hostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJG0CHKyK+L6cqs4WBIdUgegtNkBJFdy+kOJwvZqiB/Y"

    @Test func emptyFileIsTheDefaults() throws {
        #expect(try BastionConfiguration.parse("", file: "empty.toml") == .defaults)
        #expect(try BastionConfiguration.parse("# nothing\n\n[auth]\n", file: "empty.toml") == .defaults)
    }

    @Test func defaultsAreThePublishedValues() {
        let defaults = BastionConfiguration.defaults
        #expect(defaults.server.dataDirectory == ".bastion")
        #expect(defaults.ssh.listen == ListenAddress(host: "127.0.0.1", port: 2222))
        #expect(defaults.ssh.loginGraceTime == 60)
        #expect(defaults.http.listen.description == "127.0.0.1:8080")
        #expect(defaults.http.publicURL == "http://127.0.0.1:8080")
        #expect(defaults.auth == .init(totpSkewSteps: 1, maxFailures: 5, lockout: 900))
        #expect(defaults.certificates == .init(defaultTTL: 14_400, bindSourceAddress: false))
        #expect(defaults.recording.directory == "Recordings")
        #expect(defaults.log.level == "info")
        #expect(defaults.policy == .empty)
    }

    @Test func everyKeyIsRead() throws {
        let text = """
            [server]
            data_dir = "/var/lib/bastion"
            [ssh]
            listen = "[::1]:0"
            login_grace_time = "30s"
            [http]
            listen = "0.0.0.0:8443"
            public_url = "https://bastion.example.com"
            tls_cert = "/etc/bastion/http.pem"
            tls_key = "/etc/bastion/http.key"
            tls_min = "1.2"
            client_ca = "/etc/bastion/targets-ca.pem"
            [auth]
            totp_skew_steps = 0
            max_failures = 3
            lockout = "1h"
            [certificates]
            default_ttl = "2h"
            source_address = true
            [recording]
            dir = "/srv/recordings"
            [log]
            level = "debug"
            [roles.engineer]
            targets = ["web*", "db01"]
            logins = ["deploy", "app"]
            [roles.oncall]
            targets = ["*"]
            logins = ["root"]
            max_cert_ttl = "12h"
            extensions = ["permit-pty", "permit-agent-forwarding"]
            [roles.approver]
            [targets.web01]
            address = "10.0.0.5:22"
            host_key = "\(Self.hostKey)"
            labels = { env = "prod", team = "web" }
            [targets."db01"]
            address = "db01.internal:2022"
            host_key = "\(Self.hostKey)"
            """
        let configuration = try BastionConfiguration.parse(text, file: "full.toml")
        let expected = BastionConfiguration(
            server: .init(dataDirectory: "/var/lib/bastion"),
            ssh: .init(listen: ListenAddress(host: "::1", port: 0), loginGraceTime: 30),
            http: {
                var http = BastionConfiguration.HTTPConfiguration(listen: ListenAddress(host: "0.0.0.0", port: 8443), publicURL: "https://bastion.example.com")
                http.tls = .init(
                    certificate: "/etc/bastion/http.pem", key: "/etc/bastion/http.key", minimumVersion: .tls12, clientCA: "/etc/bastion/targets-ca.pem"
                )
                return http
            }(),
            auth: .init(totpSkewSteps: 0, maxFailures: 3, lockout: 3_600),
            certificates: .init(defaultTTL: 7_200, bindSourceAddress: true),
            recording: .init(directory: "/srv/recordings"),
            log: .init(level: "debug"),
            policy: Policy(
                roles: [
                    // No max_cert_ttl: the role is capped at certificates.default_ttl.
                    "engineer": Role(name: "engineer", targets: ["web*", "db01"], logins: ["deploy", "app"], maxCertificateTTL: 7_200),
                    // Longer than default_ttl is allowed (up to 24h).
                    "oncall": Role(
                        name: "oncall",
                        targets: ["*"],
                        logins: ["root"],
                        maxCertificateTTL: 43_200,
                        extensions: ["permit-pty", "permit-agent-forwarding"]
                    ),
                    // A certificate-only role.
                    "approver": Role(name: "approver", maxCertificateTTL: 7_200),
                ],
                targets: [
                    "web01": TargetDefinition(
                        name: "web01",
                        host: "10.0.0.5",
                        port: 22,
                        hostKey: Self.hostKey,
                        labels: ["env": "prod", "team": "web"]
                    ),
                    "db01": TargetDefinition(name: "db01", host: "db01.internal", port: 2022, hostKey: Self.hostKey),
                ]
            )
        )
        #expect(configuration == expected)
    }

    @Test func dottedKeysAndInlineTablesAreTheSameAsSections() throws {
        let text = """
            auth.max_failures = 7
            certificates = { default_ttl = "1h" }
            """
        let configuration = try BastionConfiguration.parse(text, file: "dotted.toml")
        #expect(configuration.auth.maxFailures == 7)
        #expect(configuration.certificates.defaultTTL == 3_600)
    }

    /// The file `make run` uses is the defaults plus the example role.
    @Test func shippedFileIsTheDefaultsPlusTheEngineerRole() throws {
        let path = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Config/bastiond.toml").path
        var expected = BastionConfiguration.defaults
        expected.policy.roles["engineer"] = Role(name: "engineer", targets: ["web*"], logins: ["deploy"], maxCertificateTTL: 4 * 3_600)
        #expect(try BastionConfiguration.load(file: path) == expected)
    }

    /// The commented-out example target in the shipped file is valid once uncommented.
    @Test func shippedExampleTargetIsValid() throws {
        let path = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Config/bastiond.toml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let uncommented = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("# [targets.") || line.hasPrefix("# address") || line.hasPrefix("# host_key") || line.hasPrefix("# labels")
                ? line.dropFirst(2) : line
        }.joined(separator: "\n")
        let configuration = try BastionConfiguration.parse(uncommented, file: "example.toml")
        #expect(configuration.policy.targets["web01"]?.host == "10.0.0.5")
        #expect(configuration.policy.targets["web01"]?.labels == ["env": "prod"])
    }

    /// The example in docs/configuration.md stays valid.
    @Test func documentedExampleParses() throws {
        let path = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/configuration.md").path
        let markdown = try String(contentsOfFile: path, encoding: .utf8)
        let example = try #require(markdown.components(separatedBy: "```toml\n").last?.components(separatedBy: "```").first)
        let configuration = try BastionConfiguration.parse(example, file: "docs/configuration.md")
        #expect(configuration.policy.roles.keys.sorted() == ["engineer", "oncall"])
        #expect(configuration.policy.targets["web01"]?.port == 22)
        #expect(configuration.auth.maxFailures == 3)
    }

    @Test func loadReadsAFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bastion-\(UUID().uuidString).toml").path
        try "[auth]\nmax_failures = 9\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try BastionConfiguration.load(file: path).auth.maxFailures == 9)
    }

    @Test func missingFileIsAnErrorWithoutLine() {
        let path = "/nonexistent/bastiond.toml"
        let error = ConfigurationError(file: path, line: nil, key: "(file)", reason: "no such file")
        #expect(throws: error) { try BastionConfiguration.load(file: path) }
        #expect(error.description == "/nonexistent/bastiond.toml: (file): no such file")
    }

    @Test func errorDescriptionWithLine() {
        let error = ConfigurationError(file: "b.toml", line: 3, key: "auth.max_failure", reason: "unknown key")
        #expect(error.description == "b.toml:3: auth.max_failure: unknown key")
    }
}
