import BastionApp
import BastionCore
import BastionTesting
import Foundation
import Testing

/// Auditors replaying recorded sessions: over SSH (`replay ID`, `--raw`) with the stock
/// OpenSSH client, in a real terminal (tmux), and with the `bastiond replay` executable;
/// recordings tampered with are refused unless forced, and every use is audited.
@Suite("Replay")
struct ReplayTests {
    /// A role that may audit (the base config's `auditor` role cannot be redefined in TOML).
    static let auditorRole = "[roles.inspector]\naudit = true\nmax_cert_ttl = \"1h\"\n"

    struct Recorded {
        var id: String
        var path: String
    }

    /// alice (ops) runs a two-second command on web01 with a terminal; the session's id and recording.
    static func recordSession(_ bastion: BastionHarness) async throws -> Recorded {
        let alice = try await RelayTests.operatorWithCertificate(bastion)
        let result = try await alice.ssh(
            ["printf 'hello-replay\\n'; sleep 2; printf 'after-pause\\n'"], user: "root@web01", answer: .none, useCertificate: true, tty: true
        )
        try #require(result.status == 0, "\(result)")
        let end = try #require(try await bastion.auditDetails("session.end").first)
        return Recorded(id: try #require(end["session_id"]), path: try #require(end["recording"]))
    }

    /// carol, an auditor with a certificate: a TOTP code is good for one login only, so
    /// her commands log in with the certificate.
    static func auditor(_ bastion: BastionHarness) async throws -> Engineer {
        let carol = try await bastion.enroll("carol", roles: ["inspector"])
        try await carol.fetchCertificate()
        return carol
    }

    /// The recording's asciicast text (sealed recordings opened): what `--raw` streams.
    static func bytes(_ path: String) throws -> [UInt8] {
        try RelayRecording.plaintext(path)
    }

    @Test("replay --raw is the .cast file byte for byte and asciinema accepts it; non-auditors and unknown ids are refused")
    func rawExport() async throws {
        try await withRelay(extraConfig: Self.auditorRole) { bastion, _ in
            let recorded = try await Self.recordSession(bastion)
            let carol = try await Self.auditor(bastion)

            let raw = try await carol.ssh(["replay", recorded.id, "--raw"], answer: .none, useCertificate: true)
            #expect(raw.status == 0, "\(raw)")
            #expect(Array(raw.stdout.utf8) == (try Self.bytes(recorded.path)))
            let copy = bastion.directory.file("exported.cast")
            try raw.stdout.write(toFile: copy, atomically: true, encoding: .utf8)
            let cat = try await RelayRecording.asciinemaCat(copy)
            #expect(cat.status == 0, "\(cat)")
            #expect(cat.stdout.contains("hello-replay"))
            let export = try #require(try bastion.auditDetailsNow("session.export").first)
            #expect(export == ["session_id": recorded.id, "via": "ssh", "forced": "false"])

            let unknown = try await carol.ssh(["replay", "nosuchsession"], answer: .none, useCertificate: true)
            #expect(unknown.status == 1, "\(unknown)")
            #expect(unknown.stderr == "bastion: replay: no ended session nosuchsession (see `sessions`)\n")

            let alice = try await bastion.enroll("alice2", roles: ["ops"])
            let denied = try await alice.ssh(["replay", recorded.id])
            #expect(denied.status == 1, "\(denied)")
            #expect(denied.stderr.contains("for auditors only"), "\(denied)")
            #expect(try bastion.auditDetailsNow("session.replay").isEmpty)
        }
    }

    @Test("replay in a real terminal reproduces the screen with --speed 4; q quits a slow replay early")
    func terminalReplay() async throws {
        try await withRelay(extraConfig: Self.auditorRole) { bastion, _ in
            let recorded = try await Self.recordSession(bastion)
            let carol = try await Self.auditor(bastion)
            func command(_ arguments: String) -> String {
                (["ssh", "-tt"] + carol.clientOptions(useCertificate: true) + ["-p", String(bastion.endpoints.sshPort), "carol@127.0.0.1", arguments])
                    .map(relayShellQuote).joined(separator: " ") + "; echo exit=$?; sleep 30"
            }

            let tmux = RelayTmux(session: "replay-\(UUID().uuidString.prefix(8))")
            do {
                let started = Date()
                try await tmux.start(columns: 120, rows: 30, command: command("replay \(recorded.id) --speed 4"))
                var pane: [String] = []
                let ended = try await relayPoll(timeout: 20, interval: .milliseconds(200)) {
                    pane = try await tmux.lines()
                    return pane.contains("exit=0")
                }
                #expect(ended, "\(pane.joined(separator: "\n"))")
                #expect(pane.contains { $0.hasPrefix("replaying \(recorded.id) (alice root@web01, ") }, "\(pane)")
                #expect(pane.contains("hello-replay"), "\(pane)")
                #expect(pane.contains("after-pause"), "\(pane)")
                #expect(pane.contains("end of session \(recorded.id)"), "\(pane)")
                #expect(Date().timeIntervalSince(started) < 15)
                await tmux.stop()

                // At a tenth of the speed, with every gap capped at one second of the recording
                // (the first one too: the target's shell may take a while to print on a loaded
                // machine), the two-second pause lasts ten: q ends it before the second line.
                try await tmux.start(columns: 120, rows: 30, command: command("replay \(recorded.id) --speed 0.1 --idle-limit 1"))
                let playing = try await relayPoll(timeout: 20, interval: .milliseconds(200)) {
                    pane = try await tmux.lines()
                    return pane.contains("hello-replay")
                }
                try #require(playing, "\(pane.joined(separator: "\n"))")
                try await tmux.run(["send-keys", "-t", tmux.session, "q"])
                let quit = try await relayPoll(timeout: 10, interval: .milliseconds(200)) {
                    pane = try await tmux.lines()
                    return pane.contains("exit=0")
                }
                #expect(quit, "\(pane.joined(separator: "\n"))")
                #expect(pane.contains("replay of session \(recorded.id) stopped"), "\(pane)")
                #expect(!pane.contains("after-pause"), "\(pane)")
            } catch {
                await tmux.stop()
                throw error
            }
            await tmux.stop()
            let replays = try bastion.auditDetailsNow("session.replay")
            #expect(replays.count == 2)
            #expect(replays.allSatisfy { $0 == ["session_id": recorded.id, "via": "ssh", "forced": "false"] }, "\(replays)")
        }
    }

    @Test("a tampered recording is refused and audited; --force streams only what authenticates, audited as forced")
    func tampered() async throws {
        try await withRelay(extraConfig: Self.auditorRole) { bastion, _ in
            let recorded = try await Self.recordSession(bastion)
            let carol = try await Self.auditor(bastion)
            let original = try Self.bytes(recorded.path)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: recorded.path))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data("[9.0, \"o\", \"forged\\r\\n\"]\n".utf8))
            try handle.close()

            for arguments in [["replay", recorded.id], ["replay", recorded.id, "--raw"]] {
                let refused = try await carol.ssh(arguments, answer: .none, useCertificate: true)
                #expect(refused.status == 1, "\(refused)")
                #expect(refused.stdout.isEmpty)
                #expect(refused.stderr.hasPrefix("bastion: session \(recorded.id): the recording does not match its audit record"), "\(refused)")
                #expect(refused.stderr.contains("refused (use --force"), "\(refused)")
            }
            let integrity = try bastion.auditRecords("recording.integrity")
            #expect(integrity.count == 2)
            #expect(integrity.allSatisfy { $0["outcome"] as? String == "failure" && ($0["details"] as? [String: String])?["forced"] == "false" })
            #expect(try bastion.auditDetailsNow("session.replay").isEmpty)
            #expect(try bastion.auditDetailsNow("session.export").isEmpty)

            // --force streams what still authenticates and stops where the forgery begins: a
            // line appended to a sealed recording is never served, forced or not.
            let forced = try await carol.ssh(["replay", recorded.id, "--raw", "--force"], answer: .none, useCertificate: true)
            #expect(forced.status == 1, "\(forced)")
            #expect(Array(forced.stdout.utf8) == original)
            #expect(!forced.stdout.contains("forged"))
            #expect(forced.stderr.contains("the recording fails authentication"), "\(forced)")
            #expect(try bastion.auditDetailsNow("recording.integrity").last?["forced"] == "true")
            #expect(try bastion.auditDetailsNow("session.export") == [["session_id": recorded.id, "via": "ssh", "forced": "true"]])
        }
    }

    @Test("bastiond replay: an id is verified and played or streamed; a file by path is played and said to be unverified")
    func daemonCommand() async throws {
        try await withRelay(extraConfig: Self.auditorRole) { bastion, _ in
            let recorded = try await Self.recordSession(bastion)
            // The same data directory and recordings, as an operator on the host would use them.
            let config = bastion.directory.file("cli.toml")
            try BastionHarness.configText(in: bastion.directory).write(toFile: config, atomically: true, encoding: .utf8)

            let raw = try await BastiondBinary.run(["replay", recorded.id, "--raw", "--config", config])
            #expect(raw.status == 0, "\(raw)")
            #expect(Array(raw.stdout.utf8) == (try Self.bytes(recorded.path)))

            let played = try await BastiondBinary.run(["replay", recorded.id, "--speed", "8", "--config", config])
            #expect(played.status == 0, "\(played)")
            #expect(played.stdout.contains("replaying \(recorded.id) (alice root@web01) (no keys: stdin is not a terminal)"), "\(played)")
            #expect(played.stdout.contains("hello-replay\r\n"), "\(played)")
            #expect(played.stdout.contains("after-pause"), "\(played)")
            #expect(played.stdout.hasSuffix("end of session \(recorded.id)\n"), "\(played)")

            let copy = bastion.directory.file("elsewhere.cast")
            try FileManager.default.copyItem(atPath: recorded.path, toPath: copy)
            let file = try await BastiondBinary.run(["replay", copy, "--idle-limit", "0.1", "--config", config])
            #expect(file.status == 0, "\(file)")
            #expect(file.stderr.contains("is not a known session's recording: it is not verified against the audit log"), "\(file)")
            #expect(file.stdout.contains("after-pause"), "\(file)")

            let known = try await BastiondBinary.run(["replay", recorded.path, "--speed", "8", "--config", config])
            #expect(known.status == 0, "\(known)")
            #expect(known.stderr.isEmpty, "\(known)")

            try Data("x".utf8).write(to: URL(fileURLWithPath: recorded.path), options: [])
            let refused = try await BastiondBinary.run(["replay", recorded.path, "--config", config])
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stderr.contains("does not match its audit record"), "\(refused)")
            let unknown = try await BastiondBinary.run(["replay", "nosuchsession", "--config", config])
            #expect(unknown.status == 1, "\(unknown)")

            let replays = try bastion.auditRecords("session.replay")
            #expect(replays.count == 3)
            #expect(replays.allSatisfy { ($0["details"] as? [String: String])?["via"] == "cli" && ($0["actor"] as? [String: Any])?["method"] as? String == "admin-cli" })
            #expect(try bastion.auditDetailsNow("session.export") == [["session_id": recorded.id, "via": "cli", "forced": "false"]])
            #expect(try bastion.auditDetailsNow("recording.integrity").first?["forced"] == "false")
        }
    }
}
