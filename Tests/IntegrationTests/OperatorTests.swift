import BastionApp
import BastionCore
import BastionStore
import BastionTesting
import Foundation
import Testing

/// What an operator meets: the bastiond executable, its keys, its config errors, its
/// admin commands and its HTTP endpoints.
@Suite("Operator")
struct OperatorTests {
    private static func writeConfig(_ directory: TemporaryDirectory, extra: String = "") throws -> String {
        let path = directory.file("bastiond.toml")
        try BastionHarness.configText(in: directory, extra: extra).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test("first use creates host key, user CA, upstream CA, audit key and master key, all 0600")
    func keysCreated() async throws {
        let directory = try TemporaryDirectory()
        let config = try Self.writeConfig(directory)
        let shown = try await BastiondBinary.run(["ca", "show", "--config", config])
        #expect(shown.status == 0, "\(shown)")
        let lines = shown.stdout.split(separator: "\n").filter { $0.hasPrefix("ssh-ed25519 ") }
        #expect(lines.count == 2)
        #expect(lines[0] != lines[1])
        for name in ["ssh_host_ed25519_key", "user_ca", "upstream_ca", "audit_key", "master.key", "bastion.sqlite", "bastion.sqlite-wal"]
        where FileManager.default.fileExists(atPath: directory.file("data/\(name)")) || !name.hasSuffix("-wal") {
            let attributes = try FileManager.default.attributesOfItem(atPath: directory.file("data/\(name)"))
            #expect((attributes[.posixPermissions] as? Int) == 0o600, "\(name)")
        }
        // ssh-keygen reads the CA key files Bastion wrote, and agrees on the public key.
        let derived = try await ProcessRunner.run("ssh-keygen", ["-y", "-f", directory.file("data/user_ca")])
        #expect(derived.status == 0)
        #expect(lines[0].split(separator: " ").prefix(2) == derived.stdout.split(separator: " ").prefix(2))
    }

    @Test("a key file readable by group or others is refused with a clear message")
    func unprotectedKeyRefused() async throws {
        let directory = try TemporaryDirectory()
        let config = try Self.writeConfig(directory)
        #expect(try await BastiondBinary.run(["ca", "show", "--config", config]).status == 0)
        chmod(directory.file("data/user_ca"), 0o640)
        let result = try await BastiondBinary.run(["serve", "--config", config], timeout: 20)
        #expect(result.status != 0)
        #expect(result.stderr.contains("user_ca: is readable by group or others (mode 640)"), "\(result)")
        #expect(result.stderr.contains("chmod 600"))
    }

    @Test("invalid configuration is refused at start with file, line, key and reason")
    func invalidConfiguration() async throws {
        let directory = try TemporaryDirectory()
        let config = try Self.writeConfig(directory, extra: "[auth]\nlockout = \"15 minutes\"\n")
        let result = try await BastiondBinary.run(["serve", "--config", config], timeout: 20)
        #expect(result.status == 78, "EX_CONFIG: \(result)")
        let line = try #require(try String(contentsOfFile: config, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            .firstIndex { $0.hasPrefix("lockout") }) + 1
        #expect(result.stderr.contains("\(config):\(line): auth.lockout: invalid duration \"15 minutes\""), "\(result)")

        let unknown = try Self.writeConfig(directory, extra: "[auth]\nmax_failure = 3\n")
        let second = try await BastiondBinary.run(["serve", "--config", unknown], timeout: 20)
        #expect(second.stderr.contains("auth.max_failure: unknown key"), "\(second)")

        let missing = try await BastiondBinary.run(["serve", "--config", directory.file("nope.toml")], timeout: 20)
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("nope.toml: (file): no such file"), "\(missing)")
    }

    @Test("user add prints the otpauth line and a QR code; list, lock, unlock, reset-totp, add-key, remove")
    func adminCommands() async throws {
        let directory = try TemporaryDirectory()
        let config = try Self.writeConfig(directory)
        let key = try await Engineer.makeKey(in: directory, name: "alice", type: .ed25519)
        let added = try await BastiondBinary.run([
            "user", "add", "alice", "--key", try String(contentsOfFile: key + ".pub", encoding: .utf8), "--role", "engineer", "--config", config,
        ])
        #expect(added.status == 0, "\(added)")
        let uri = try #require(added.stdout.split(separator: "\n").first { $0.hasPrefix("otpauth://") }.map(String.init))
        #expect(uri.wholeMatch(of: /otpauth:\/\/totp\/Bastion:alice\?secret=[A-Z2-7]{32}&issuer=Bastion&algorithm=SHA1&digits=6&period=30/) != nil, "\(uri)")
        #expect(added.stdout.contains("█"), "a QR code is drawn")

        let list = try await BastiondBinary.run(["user", "list", "--config", config])
        #expect(list.stdout.contains("alice"))
        #expect(list.stdout.contains("active"))
        #expect(list.stdout.contains("engineer"))

        #expect(try await BastiondBinary.run(["user", "lock", "alice", "--config", config]).status == 0)
        #expect(try await BastiondBinary.run(["user", "list", "--config", config]).stdout.contains("locked"))
        #expect(try await BastiondBinary.run(["user", "unlock", "alice", "--config", config]).status == 0)

        let reset = try await BastiondBinary.run(["user", "reset-totp", "alice", "--config", config])
        #expect(reset.status == 0)
        let newURI = reset.stdout.split(separator: "\n").first { $0.hasPrefix("otpauth://") }.map(String.init)
        #expect(newURI != nil && newURI != uri)

        let second = try await Engineer.makeKey(in: directory, name: "alice2", type: .ecdsa)
        let addKey = try await BastiondBinary.run(["user", "add-key", "alice", "--key", try String(contentsOfFile: second + ".pub", encoding: .utf8), "--config", config])
        #expect(addKey.status == 0, "\(addKey)")
        #expect(try await BastiondBinary.run(["user", "list", "--config", config]).stdout.contains("ECDSA"))

        let duplicate = try await BastiondBinary.run(["user", "add", "bob", "--key", try String(contentsOfFile: key + ".pub", encoding: .utf8), "--config", config])
        #expect(duplicate.status != 0)
        #expect(duplicate.stderr.contains("already enrolled for alice"), "\(duplicate)")

        let badName = try await BastiondBinary.run(["user", "add", "Robert'); DROP", "--key", "ssh-ed25519 AAAA", "--config", config])
        #expect(badName.status != 0)
        #expect(badName.stderr.contains("invalid user name"))

        let badRole = try await BastiondBinary.run(["user", "add", "carol", "--key", try String(contentsOfFile: second + ".pub", encoding: .utf8), "--role", "root", "--config", config])
        #expect(badRole.stderr.contains("unknown role(s) root"), "\(badRole)")

        #expect(try await BastiondBinary.run(["user", "remove", "alice", "--config", config]).status == 0)
        #expect(!(try await BastiondBinary.run(["user", "list", "--config", config]).stdout.contains("alice")))

        // Every admin action is audited.
        let environment = try BastionEnvironment.open(configuration: try BastionConfiguration.load(file: config))
        let types = try environment.auditLog.records().map(\.type)
        for type in ["server.key_create", "user.add", "user.lock", "user.unlock", "user.reset_totp", "user.add_key", "user.remove"] {
            #expect(types.contains(type), "\(type) in \(types)")
        }
    }

    @Test("TOTP secrets are not in the database in the clear")
    func secretsEncryptedAtRest() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            let database = try Data(contentsOf: URL(fileURLWithPath: bastion.directory.file("data/bastion.sqlite")))
            let wal = (try? Data(contentsOf: URL(fileURLWithPath: bastion.directory.file("data/bastion.sqlite-wal")))) ?? Data()
            let secret = try TOTPSecret(base32: alice.secret)
            for blob in [database, wal] {
                #expect(blob.range(of: Data(secret.bytes)) == nil)
                #expect(blob.range(of: Data(alice.secret.utf8)) == nil)
            }
            let audit = try bastion.environment.auditLog.records().map(\.json).joined()
            #expect(!audit.contains(alice.secret))
        }
    }

    @Test("GET /healthz is 200 and /metrics is Prometheus text counting logins")
    func httpEndpoints() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            let base = "http://127.0.0.1:\(bastion.endpoints.httpPort)"
            let health = try await ProcessRunner.run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", base + "/healthz"])
            #expect(health.stdout == "200", "\(health)")
            let metrics = try await ProcessRunner.run("curl", ["-s", base + "/metrics"])
            #expect(metrics.stdout.contains("# TYPE bastion_audit_events_total counter"))
            #expect(metrics.stdout.contains("bastion_audit_events_total{type=\"cert.issue\",outcome=\"success\"} 1"), "\(metrics.stdout)")
            #expect(metrics.stdout.contains("bastion_ssh_connections_open"))
        }
    }

    @Test("bastiond serve runs, answers SSH and HTTP, and stops on SIGTERM")
    func serveProcess() async throws {
        let directory = try TemporaryDirectory()
        let config = try Self.writeConfig(directory)
        let logPath = directory.file("serve.log")
        let process = try SpawnedProcess([try BastiondBinary.path, "serve", "--config", config], stderr: .file(logPath))
        defer { process.signal(SIGKILL) }
        // The ready line names both ports (the config asked for port 0).
        var log = ""
        let deadline = Date().addingTimeInterval(20)
        while !log.contains("bastiond ready"), Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
            log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        }
        let http = try #require(log.firstMatch(of: /http=127\.0\.0\.1:(\d+)/)?.1)
        #expect(log.firstMatch(of: /ssh=127\.0\.0\.1:(\d+)/) != nil, "\(log)")
        let health = try await ProcessRunner.run("curl", ["-s", "http://127.0.0.1:\(http)/healthz"])
        #expect(health.stdout == "ok\n")
        process.signal(SIGTERM)
        #expect(try await process.waitForExit(timeout: 10), "bastiond stops on SIGTERM")
        #expect(process.exitStatus == 0, "\(log)")
    }
}
