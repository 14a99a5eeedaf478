import BastionApp
import BastionCore
import BastionTesting
import Foundation
import Testing

/// The auditor's commands, run as the real `bastiond` executable against a real database
/// file, tampered with by the real `sqlite3` shell.
@Suite("Audit commands")
struct AuditCommandTests {
    /// A data directory with a few administrative records, checkpoints every 3.
    struct Bastion {
        let directory: TemporaryDirectory
        let config: String

        init(extra: String = "") async throws {
            directory = try TemporaryDirectory(prefix: "bastion-audit")
            config = directory.file("bastiond.toml")
            try BastionHarness.configText(in: directory, extra: "[audit]\ncheckpoint_every = 3\n" + extra)
                .write(toFile: config, atomically: true, encoding: .utf8)
            let key = try await Engineer.makeKey(in: directory, name: "alice", type: .ed25519)
            let added = try await run(["user", "add", "alice", "--key", try String(contentsOfFile: key + ".pub", encoding: .utf8), "--role", "engineer"])
            try #require(added.status == 0, "\(added)")
            for command in ["lock", "unlock"] { try #require(try await run(["user", command, "alice"]).status == 0) }
        }

        func run(_ arguments: [String]) async throws -> ProcessRunner.Result {
            try await BastiondBinary.run(arguments + ["--config", config])
        }

        var database: String { directory.file("data/bastion.sqlite") }
    }

    @Test("verify reports a clean log, and a record altered with the sqlite3 shell at its seq, exiting 1")
    func verifyDatabase() async throws {
        let bastion = try await Bastion()
        let clean = try await bastion.run(["audit", "verify"])
        #expect(clean.status == 0, "\(clean)")
        #expect(clean.stdout.contains("RESULT: INTACT"), "\(clean)")
        #expect(clean.stdout.contains("checkpoints:"))

        let seq = try #require(try await bastion.run(["audit", "search", "--type", "user.lock", "--json"]).stdout
            .split(separator: "\n").count == 1 ? try await Self.seq(of: "user.lock", bastion) : nil)
        let tamper = try await ProcessRunner.run("sqlite3", [bastion.database], input: Data("""
            DROP TRIGGER audit_records_append_only;
            UPDATE audit_records SET record = replace(record, 'user.lock', 'user.unlock') WHERE seq = \(seq);
            """.utf8))
        #expect(tamper.status == 0, "\(tamper)")
        let broken = try await bastion.run(["audit", "verify"])
        #expect(broken.status == 1, "\(broken)")
        #expect(broken.stdout.contains("RESULT: BROKEN"), "\(broken)")
        #expect(broken.stdout.contains("seq \(seq): altered"), "\(broken)")
    }

    static func seq(of type: String, _ bastion: Bastion) async throws -> Int64 {
        let table = try await bastion.run(["audit", "search", "--type", type])
        let row = try #require(table.stdout.split(separator: "\n").dropFirst().first, "\(table)")
        return try #require(Int64(row.split(separator: " ").first ?? ""))
    }

    @Test("search filters by user and type, prints canonical JSON, and is itself audited")
    func search() async throws {
        let bastion = try await Bastion()
        let locks = try await bastion.run(["audit", "search", "--target", "alice", "--type", "user.lock", "--json"])
        #expect(locks.status == 0, "\(locks)")
        let lines = locks.stdout.split(separator: "\n")
        #expect(lines.count == 1, "\(locks)")
        let event = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(event["type"] as? String == "user.lock")
        #expect(event["code"] as? String == "B1202W")
        let none = try await bastion.run(["audit", "search", "--user", "nobody", "--json"])
        #expect(none.stdout.isEmpty, "\(none)")
        let since = try await bastion.run(["audit", "search", "--since", "1h", "--until", "2999-01-01", "--type", "user.add"])
        #expect(since.stdout.contains("user.add"), "\(since)")
        let bad = try await bastion.run(["audit", "search", "--since", "yesterday"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--since yesterday"), "\(bad)")
        let audited = try await bastion.run(["audit", "search", "--type", "audit.search", "--json"])
        #expect(audited.stdout.split(separator: "\n").count == 4, "every search so far, this one included: \(audited)")
    }

    @Test("an export verifies offline with only the audit public key; an edited export fails at the edited seq", arguments: ["jsonl", "csv"])
    func exportVerifiedOffline(format: String) async throws {
        let bastion = try await Bastion()
        let export = bastion.directory.file("export.\(format)")
        let exported = try await bastion.run(["audit", "export", "--format", format, "--output", export])
        #expect(exported.status == 0, "\(exported)")
        let publicKey = try await bastion.run(["audit", "key"])
        #expect(publicKey.stdout.hasPrefix("ssh-ed25519 "))

        // Elsewhere: a folder with the export and the public key, no Bastion files.
        let outside = try TemporaryDirectory(prefix: "auditor")
        try FileManager.default.copyItem(atPath: export, toPath: outside.file("export.\(format)"))
        try publicKey.stdout.write(toFile: outside.file("audit.pub"), atomically: true, encoding: .utf8)
        let binary = try BastiondBinary.path
        let offline = try await ProcessRunner.run(
            binary, ["audit", "verify", "--file", outside.file("export.\(format)"), "--public-key", outside.file("audit.pub")],
            currentDirectory: outside.path
        )
        #expect(offline.status == 0, "\(offline)")
        #expect(offline.stdout.contains("RESULT: INTACT"), "\(offline)")

        let lockSeq = try await Self.seq(of: "user.lock", bastion)
        let text = try String(contentsOfFile: outside.file("export.\(format)"), encoding: .utf8)
        try text.replacingOccurrences(of: "user.lock", with: "user.look").write(toFile: outside.file("export.\(format)"), atomically: true, encoding: .utf8)
        let edited = try await ProcessRunner.run(
            binary, ["audit", "verify", "--file", outside.file("export.\(format)"), "--public-key", outside.file("audit.pub")]
        )
        #expect(edited.status == 1, "\(edited)")
        #expect(edited.stdout.contains("seq \(lockSeq): altered"), "\(edited)")

        // Another key (not the bastion's) does not vouch for the checkpoints.
        let stranger = try await Engineer.makeKey(in: outside, name: "stranger", type: .ed25519)
        let wrongKey = try await ProcessRunner.run(
            binary, ["audit", "verify", "--file", export, "--public-key", stranger + ".pub"]
        )
        #expect(wrongKey.status == 1, "\(wrongKey)")
        #expect(wrongKey.stdout.contains("checkpoint_signature"), "\(wrongKey)")
    }

    @Test("legal holds are placed, listed and removed through the CLI, each audited; retention run reports")
    func holdsAndRetention() async throws {
        let bastion = try await Bastion()
        let added = try await bastion.run(["audit", "hold", "add", "--user", "alice", "--reason", "case 2026-17"])
        #expect(added.status == 0, "\(added)")
        #expect(added.stdout.contains("Legal hold 1 placed on user alice"), "\(added)")
        #expect(try await bastion.run(["audit", "hold", "add", "--user", "a", "--session", "b", "--reason", "x"]).status != 0)
        #expect(try await bastion.run(["audit", "hold", "add", "--range", "9-3", "--reason", "x"]).stderr.contains("FROM-TO"))
        let listed = try await bastion.run(["audit", "hold", "list"])
        #expect(listed.stdout.contains("active") && listed.stdout.contains("case 2026-17"), "\(listed)")
        let retention = try await bastion.run(["retention", "run"])
        #expect(retention.status == 0, "\(retention)")
        #expect(retention.stdout.contains("purged 0"), "\(retention)")
        let removed = try await bastion.run(["audit", "hold", "remove", "1", "--reason", "case closed"])
        #expect(removed.status == 0, "\(removed)")
        #expect(try await bastion.run(["audit", "hold", "remove", "1", "--reason", "again"]).stderr.contains("no active legal hold"))
        let trail = try await bastion.run(["audit", "search", "--json"])
        for type in ["audit.hold_add", "audit.purge", "audit.hold_remove"] {
            #expect(trail.stdout.contains("\"type\":\"\(type)\""), "\(type) missing: \(trail)")
        }
        #expect(try await bastion.run(["audit", "verify"]).status == 0)
    }

    @Test("a retention shorter than seven years is refused at start, naming the key")
    func sixYearsRefused() async throws {
        let bastion = try await Bastion()
        try BastionHarness.configText(in: bastion.directory, extra: "[retention]\naudit = \"6y\"\n")
            .write(toFile: bastion.config, atomically: true, encoding: .utf8)
        let result = try await bastion.run(["serve"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("retention.audit: \"6y\" is shorter than the retention floor"), "\(result)")
    }

    @Test("the daemon signs a checkpoint at each interval and at stop, and audits a changed configuration")
    func daemonCheckpointsAndConfigChange() async throws {
        let bastion = try await Bastion(extra: "")
        try BastionHarness.configText(in: bastion.directory, extra: "[audit]\ncheckpoint_every = 1000\ncheckpoint_interval = \"1s\"\n")
            .write(toFile: bastion.config, atomically: true, encoding: .utf8)
        let first = try await RelayDaemonProcess(config: bastion.config, logPath: bastion.directory.file("serve-1.log"))
        defer { first.killNow() }
        // While the daemon runs, an interval checkpoint seals what it appended at start
        // (server.start): the tail becomes empty without a stop (checkpoint_every is far away).
        let sealedWhileRunning = try await relayPoll(timeout: 15, interval: .milliseconds(250)) {
            let report = try await bastion.run(["audit", "verify"])
            return report.status == 0 && !report.stdout.contains("unsealed tail")
        }
        #expect(sealedWhileRunning, "no checkpoint within 15 s at checkpoint_interval = 1s")
        #expect(try await first.signal(SIGTERM))
        let afterFirst = try await bastion.run(["audit", "verify"])
        #expect(afterFirst.status == 0, "\(afterFirst)")
        #expect(afterFirst.stdout.contains("unsealed tail") == false, "the stopping daemon sealed its last record: \(afterFirst)")

        try (try String(contentsOfFile: bastion.config, encoding: .utf8) + "\n[sessions]\nidle_timeout = \"10m\"\n")
            .write(toFile: bastion.config, atomically: true, encoding: .utf8)
        let second = try await RelayDaemonProcess(config: bastion.config, logPath: bastion.directory.file("serve-2.log"))
        defer { second.killNow() }
        #expect(try await second.signal(SIGTERM))
        let changed = try await bastion.run(["audit", "search", "--type", "config.changed", "--json"])
        #expect(changed.stdout.split(separator: "\n").count == 1, "\(changed)")
        #expect(changed.stdout.contains("previous_sha256"))
    }
}
