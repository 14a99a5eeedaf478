import BastionApp
import BastionCore
import BastionTesting
import Foundation
import GRDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The real `bastiond serve` killed with SIGKILL while a relayed session runs: the recording
/// must be readable as it is, and the next start must close it and say so in the audit log.
@Suite("Relay: bastiond killed mid-session")
struct RelayCrashTests {
    @Test("kill -9 mid-session leaves a readable recording, closed with an \"interrupted\" marker and reported at restart")
    func killedMidSession() async throws {
        let directory = try TemporaryDirectory(prefix: "bastion-crash")
        let config = directory.file("bastiond.toml")
        try BastionHarness.configText(in: directory).write(toFile: config, atomically: true, encoding: .utf8)
        // First use creates the keys; the target must trust the upstream CA before it starts.
        let shown = try await RelayDaemonProcess.run(["ca", "show", "--config", config])
        try #require(shown.status == 0, "\(shown)")
        let upstreamCA = try SSHPublicKey(authorizedKeysLine: try String(contentsOfFile: directory.file("data/upstream_ca.pub"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines))
        let sshd = try await SSHDFixture.start(trustedCA: upstreamCA, logins: ["root"])
        defer { sshd.stop() }
        try BastionHarness.configText(in: directory, extra: """
            [roles.ops]
            targets = ["web*"]
            logins = ["root"]
            [targets.web01]
            address = "127.0.0.1:\(sshd.port)"
            host_key = "\(sshd.hostKey.authorizedKeysLine)"
            """).write(toFile: config, atomically: true, encoding: .utf8)

        // Enrol alice with the admin CLI.
        let key = try await Engineer.makeKey(in: directory, name: "alice", type: .ed25519)
        let added = try await RelayDaemonProcess.run([
            "user", "add", "alice", "--key", try String(contentsOfFile: key + ".pub", encoding: .utf8), "--role", "ops", "--config", config,
        ])
        try #require(added.status == 0, "\(added)")
        let secret = try #require(added.stdout.firstMatch(of: /otpauth:\/\/\S*[?&]secret=([A-Z2-7]+)/).map { String($0.1) }, "\(added)")

        let first = try await RelayDaemonProcess(config: config, logPath: directory.file("serve-1.log"))
        defer { first.killNow() }

        // A certificate, with key + TOTP (oathtool answers through SSH_ASKPASS).
        let askpass = directory.file("askpass")
        try "#!/bin/sh\nexec oathtool --totp -b \(secret)\n".write(toFile: askpass, atomically: true, encoding: .utf8)
        chmod(askpass, 0o700)
        let certificatePath = key + "-cert.pub"
        func options(certificate: Bool, port: Int) -> [String] {
            [
                "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=10",
                "-o", "CertificateFile=\(certificate ? certificatePath : "/dev/null")", "-p", String(port),
            ]
        }
        let cert = try await ProcessRunner.run(
            "ssh", options(certificate: false, port: first.sshPort) + ["alice@127.0.0.1", "cert"],
            environment: ["SSH_ASKPASS": askpass, "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"]
        )
        try #require(cert.status == 0, "\(cert)")
        try cert.stdout.write(toFile: certificatePath, atomically: true, encoding: .utf8)

        // A session that is still running when bastiond dies. With a PTY the target's sshd
        // hangs the shell up when Bastion's connection goes, so no `sleep` is left behind.
        let clientOutput = directory.file("client.out")
        let client = try SpawnedProcess(
            executable: "ssh", options(certificate: true, port: first.sshPort) + ["-tt", "root@web01@127.0.0.1", "echo started-session; sleep 30"],
            stdout: .file(clientOutput), stderr: .standardOutput
        )
        defer { client.signal(SIGKILL) }

        // The recorder flushes at least every 500 ms: wait for the output to be on disk (as
        // an "o" event: the header's "command" names it too).
        let recordings = directory.file("recordings")
        var path = ""
        let recorded = try await relayPoll(timeout: 20, interval: .milliseconds(100)) {
            for file in RelayRecording.files(under: recordings)
            where ((try? RelayRecording.events(file)) ?? []).contains(where: { $0.code == "o" && $0.data.contains("started-session") }) {
                path = file
                return true
            }
            return false
        }
        try #require(recorded, "no recording with the session's output; client: \((try? String(contentsOfFile: clientOutput, encoding: .utf8)) ?? "")")
        #expect(FileManager.default.fileExists(atPath: path + ".open"), "an unfinished recording has its marker")

        // kill -9 mid-session.
        try #require(try await first.signal(SIGKILL), "bastiond survived SIGKILL")
        let replay = try await RelayRecording.asciinemaCat(path)
        #expect(replay.status == 0, "the recording left by the crash is readable: \(replay)")
        #expect(replay.stdout.contains("started-session"))
        let clientEnded = try await client.waitForExit(timeout: 10)
        #expect(clientEnded, "ssh notices that bastiond is gone")
        if clientEnded { #expect(client.exitStatus == 255) }

        // The next start closes the recording and reports it.
        let second = try await RelayDaemonProcess(config: config, logPath: directory.file("serve-2.log"))
        defer { second.killNow() }
        #expect(second.log.contains("closed an unfinished recording"), "\(second.log)")

        var readOnly = GRDB.Configuration()
        readOnly.readonly = true
        let database = try DatabaseQueue(path: directory.file("data/bastion.sqlite"), configuration: readOnly)
        let rows = try await database.read { db in
            try String.fetchAll(db, sql: "SELECT json_extract(record, '$.event') FROM audit_records WHERE type = 'recording.recovered'")
        }
        try #require(rows.count == 1, "\(rows)")
        let record = try #require(try JSONSerialization.jsonObject(with: Data(rows[0].utf8)) as? [String: Any])
        let details = try #require(record["details"] as? [String: String], "\(record)")
        #expect(details["recording"] == path, "\(details)")
        let sessionID = String(path.split(separator: "/").last?.dropLast(".cast".count) ?? "")
        #expect(details["session_id"] == sessionID)
        let starts = try await database.read { db in
            try String.fetchAll(db, sql: "SELECT json_extract(record, '$.event') FROM audit_records WHERE type = 'session.start'")
        }
        #expect(starts.contains { $0.contains(sessionID) }, "the recovered recording belongs to the audited session")

        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        #expect(details["recording_size"] == String(size))
        #expect(details["recording_sha256"] == (try await RelayTests.sha256(path)))
        #expect(!FileManager.default.fileExists(atPath: path + ".open"), "recovery removes the marker")
        let last = try #require(try RelayRecording.events(path).last)
        #expect(last.code == "m" && last.data == "interrupted", "last event: \(last)")
        let text = String(decoding: try RelayRecording.plaintext(path), as: UTF8.self)
        #expect(text.hasSuffix("\"m\", \"interrupted\"]\n"), "the file ends with the marker line")
        let replayAfter = try await RelayRecording.asciinemaCat(path)
        #expect(replayAfter.status == 0, "\(replayAfter)")
        #expect(replayAfter.stdout.contains("started-session"))

        // A third start finds nothing left to recover.
        #expect(try await second.signal(SIGTERM), "bastiond stops on SIGTERM")
        let third = try await RelayDaemonProcess(config: config, logPath: directory.file("serve-3.log"))
        defer { third.killNow() }
        #expect(!third.log.contains("closed an unfinished recording"))
        #expect(try await third.signal(SIGTERM))
    }
}
