import BastionApp
import BastionCore
import BastionTesting
import Foundation
import Testing

/// Live watch with real programs: an engineer's shell in one tmux, an auditor's
/// `ssh -t … watch ID` in another; the approver of a grant watching the elevated session it
/// opened; refusals that do not tell whether a session exists; `--terminate`.
@Suite("Live watch", .serialized)
struct WatchTests {
    static func sshCommand(_ engineer: Engineer, _ bastion: BastionHarness, user: String, _ command: String? = nil) -> String {
        (["ssh", "-tt"] + engineer.clientOptions(useCertificate: true) + ["-p", String(bastion.endpoints.sshPort), "\(user)@127.0.0.1"]
            + (command.map { [$0] } ?? []))
            .map(relayShellQuote).joined(separator: " ") + "; echo exit=$?; sleep 60"
    }

    /// Starts `engineer`'s recorded shell on web01 in `tmux` and prints BEFORE-36 in it; returns
    /// the session's id.
    static func startShell(in tmux: RelayTmux, columns: Int, rows: Int, as engineer: Engineer, through bastion: BastionHarness) async throws -> String {
        try await tmux.start(columns: columns, rows: rows, command: sshCommand(engineer, bastion, user: "root@web01"))
        var start: [String: String]?
        _ = try await relayPoll(timeout: 20, interval: .milliseconds(100)) {
            start = try bastion.auditDetailsNow("session.start").first
            return start != nil
        }
        let id = try #require(start?["session_id"], "no session.start")
        let prompted = try await relayPoll(timeout: 20, interval: .milliseconds(200)) { try await tmux.lines().contains { !$0.isEmpty } }
        try #require(prompted, "no prompt from the target")
        try await tmux.type("echo BEFORE-$((6*6))")
        if let pane = try await tmux.waitForLine("BEFORE-36") { Issue.record("no BEFORE-36 in the engineer's pane:\n\(pane)") }
        return id
    }

    /// A shell loop on the target that waits (at most a minute) until `file` exists.
    static func waitFor(_ file: String) -> String {
        "for i in $(seq 600); do [ -e \(relayShellQuote(file)) ] && break; sleep 0.1; done"
    }

    /// Lets the session go on (creates `file`) once a watch of it has begun.
    static func release(_ file: String, onceWatched bastion: BastionHarness) async throws {
        let begun = try await relayPoll(timeout: 30, interval: .milliseconds(100)) {
            try bastion.auditRecords("session.watch").contains { $0["outcome"] as? String == "success" }
        }
        #expect(begun, "no watch began")
        FileManager.default.createFile(atPath: file, contents: Data())
    }

    @Test("an auditor watches a shell in tmux: output within a second, the user told, keys not forwarded, q leaves; --terminate ends it")
    func auditorWatchesAndTerminates() async throws {
        try await withRelay(extraConfig: ReplayTests.auditorRole) { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let carol = try await ReplayTests.auditor(bastion)
            let dave = try await bastion.enroll("dave", roles: ["ops"])
            try await dave.fetchCertificate()
            let engineer = RelayTmux(session: "engineer-\(UUID().uuidString.prefix(8))")
            let watcher = RelayTmux(session: "watcher-\(UUID().uuidString.prefix(8))")
            func stopAll() async {
                await watcher.stop()
                await engineer.stop()
            }
            do {
                let id = try await Self.startShell(in: engineer, columns: 120, rows: 40, as: alice, through: bastion)

                // Refusals while the session is live: the same line for a session that exists and one that does not.
                let refused = try await dave.ssh(["watch", id], answer: .none, useCertificate: true)
                #expect(refused.status == 1, "\(refused)")
                #expect(refused.stderr == "bastion: \(WatchPermission.refusal(SessionID(rawValue: id)))\n", "\(refused)")
                let missing = try await dave.ssh(["watch", "0123456789abcdef"], answer: .none, useCertificate: true)
                #expect(missing.status == 1, "\(missing)")
                #expect(missing.stderr.replacingOccurrences(of: "0123456789abcdef", with: id) == refused.stderr, "\(missing)")
                let refusedKill = try await dave.ssh(["watch", id, "--terminate", "--reason", "mine now"], answer: .none, useCertificate: true)
                #expect(refusedKill.status == 1 && refusedKill.stderr == refused.stderr, "\(refusedKill)")

                let list = try await carol.ssh(["watch"], answer: .none, useCertificate: true)
                #expect(list.status == 0 && list.stdout.contains(id) && list.stdout.contains("alice"), "\(list)")
                let none = try await dave.ssh(["watch"], answer: .none, useCertificate: true)
                #expect(none.stdout == "no live session you may watch\n", "\(none)")

                // The watch: the screen starts with recent output (the backlog), then follows live.
                try await watcher.start(columns: 120, rows: 40, command: Self.sshCommand(carol, bastion, user: "carol", "watch \(id)"))
                var pane: [String] = []
                let watching = try await relayPoll(timeout: 20, interval: .milliseconds(100)) {
                    pane = try await watcher.lines()
                    return pane.contains("BEFORE-36")
                }
                try #require(watching, "the watcher's screen:\n\(pane.joined(separator: "\n"))")
                #expect(pane.contains { $0.hasPrefix("watching \(id) (alice root@web01), read-only, q leaves") }, "\(pane)")
                if let told = try await engineer.waitForLine("bastion: this session is being watched by carol") {
                    Issue.record("the engineer was not told:\n\(told)")
                }

                // Live output: typed in the engineer's terminal, seen on the watcher's screen within a
                // second of the engineer's. Up to three lines: each screen is read by polling tmux,
                // which a loaded machine may slow for one of them; a slow watch path slows them all.
                var lags: [Double] = []
                for attempt in 0..<3 {
                    let line = "LIVE-\(42 + attempt)"
                    let typed = Date()
                    try await engineer.type("echo LIVE-$((6*7+\(attempt)))")
                    var seenByEngineer: Date?
                    var seenByWatcher: Date?
                    _ = try await relayPoll(timeout: 15, interval: .milliseconds(20)) {
                        if seenByEngineer == nil, try await engineer.lines().contains(line) { seenByEngineer = Date() }
                        if seenByWatcher == nil, try await watcher.lines().contains(line) { seenByWatcher = Date() }
                        return seenByEngineer != nil && seenByWatcher != nil
                    }
                    let screen = try await watcher.lines().joined(separator: "\n")
                    let watched = try #require(seenByWatcher, "\(line) never reached the watcher:\n\(screen)")
                    let behind = seenByEngineer.map { watched.timeIntervalSince($0) } ?? .nan
                    print("watch: \(line) on the watcher's screen \(String(format: "%.3f", watched.timeIntervalSince(typed))) s after typing, \(String(format: "%.3f", behind)) s after the engineer's")
                    lags.append(behind)
                    if behind < 1 { break }
                }
                #expect(lags.contains { $0 < 1 }, "the watcher saw the lines \(lags) s after the engineer")

                // Keys typed by the watcher never reach the session.
                try await watcher.type("echo INJECTED-$((5*5))")
                try await engineer.type("echo AFTER-$((7*7))")
                if let pane = try await watcher.waitForLine("AFTER-49") { Issue.record("no AFTER-49 on the watcher's screen:\n\(pane)") }
                let engineerScreen = try await engineer.lines()
                #expect(!engineerScreen.contains("INJECTED-25"))

                try await watcher.run(["send-keys", "-t", watcher.session, "q"])
                if let pane = try await watcher.waitForLine("exit=0", timeout: 20) { Issue.record("q did not end the watch:\n\(pane)") }
                let stopped = try await watcher.lines()
                #expect(stopped.contains("watch of session \(id) stopped"), "\(stopped)")

                // --terminate: the engineer sees the reason and the session ends.
                let terminate = try await carol.ssh(["watch", id, "--terminate", "--reason", "suspicious", "rm"], answer: .none, useCertificate: true)
                #expect(terminate.status == 0, "\(terminate)")
                #expect(terminate.stdout == "session \(id) terminated\n", "\(terminate)")
                if let pane = try await engineer.waitForLine("bastion: session terminated by carol: suspicious rm", timeout: 20) {
                    Issue.record("the engineer did not see the termination:\n\(pane)")
                }
                let ended = try await relayPoll(timeout: 20, interval: .milliseconds(200)) { try await engineer.lines().contains { $0.hasPrefix("exit=") } }
                let last = try await engineer.lines()
                #expect(ended, "\(last)")
            } catch {
                await stopAll()
                throw error
            }
            await stopAll()

            let audited = try await relayPoll(timeout: 20) { !(try bastion.auditDetailsNow("session.end").isEmpty) }
            try #require(audited, "no session.end")
            let id = try #require(try bastion.auditDetailsNow("session.start").first?["session_id"])
            let watches = try bastion.auditRecords("session.watch")
            let outcomes = watches.map { "\($0["outcome"] as? String ?? "?") \(($0["actor"] as? [String: Any])?["user"] as? String ?? "?")" }
            #expect(outcomes == ["failure dave", "failure dave", "success carol"], "\(outcomes)")
            #expect((watches.last?["details"] as? [String: String])?["as"] == "auditor")
            let watchEnd = try #require(try bastion.auditDetailsNow("session.watch_end").first)
            #expect(watchEnd["end"] == "quit" && watchEnd["session_id"] == id, "\(watchEnd)")
            #expect(Int(watchEnd["bytes"] ?? "") ?? 0 > 0, "\(watchEnd)")
            let terminations = try bastion.auditRecords("session.terminate")
            #expect(terminations.map { $0["outcome"] as? String } == ["failure", "success"], "\(terminations)")
            #expect((terminations.last?["details"] as? [String: String])?["terminate_reason"] == "suspicious rm")
            let end = try #require(try bastion.auditDetailsNow("session.end").first)
            #expect(end["end_reason"] == "terminated by carol: suspicious rm", "\(end)")
            // The recording marks who watched.
            let markers = try RelayRecording.events(try #require(end["recording"])).filter { $0.code == "m" }.map(\.data)
            #expect(markers.contains("watched by carol"), "\(markers)")
        }
    }

    @Test("the approver of a grant watches the elevated session it opened (no terminal); another engineer is refused")
    func approverWatches() async throws {
        try await withRelay(extraConfig: ElevationTests.roles) { bastion, _ in
            let alice = try await bastion.enroll("alice", roles: ["sre"])
            let bob = try await bastion.enroll("bob", roles: ["lead", "sre"])
            let erin = try await bastion.enroll("erin", roles: ["sre"])
            for engineer in [alice, bob, erin] { try await engineer.fetchCertificate() }
            let team = ElevationTests()
            let request = try await team.file(alice)
            let approval = try await team.decide(bob, "approve \(request)")
            try #require(approval.status == 0, "\(approval)")

            let output = bastion.directory.file("alice-session.out")
            // The session waits for the watch, not for a time: a loaded machine may take seconds per login.
            let go = bastion.directory.file("go-granted")
            let pid = try ChildSpawner.spawn(
                [try ProcessRunner.locate("ssh")] + alice.clientOptions(useCertificate: true)
                    + ["-p", String(bastion.endpoints.sshPort), "root@web01@127.0.0.1", "echo EARLY; \(Self.waitFor(go)); echo GRANTED-WATCH; sleep 1"],
                output: output
            )
            defer { ChildSpawner.terminate(pid) }
            var start: [String: String]?
            _ = try await relayPoll(timeout: 20) {
                start = try bastion.auditDetailsNow("session.start").first
                return start != nil
            }
            let id = try #require(start?["session_id"])
            #expect(start?["elevation_request"] == request)

            let refused = try await erin.ssh(["watch", id], answer: .none, useCertificate: true)
            #expect(refused.status == 1 && refused.stderr == "bastion: \(WatchPermission.refusal(SessionID(rawValue: id)))\n", "\(refused)")

            async let watching = bob.ssh(["watch", id], answer: .none, useCertificate: true)
            try await Self.release(go, onceWatched: bastion)
            let watched = try await watching
            #expect(watched.status == 0, "\(watched)")
            #expect(watched.stdout.contains("EARLY"), "\(watched)")
            #expect(watched.stdout.contains("GRANTED-WATCH"), "\(watched)")
            #expect(watched.stdout.contains("bastion: session \(id) ended"), "\(watched)")

            _ = try await relayPoll(timeout: 15) { ChildSpawner.exitStatus(pid) != nil }
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            #expect(text.contains("bastion: this session is being watched by bob"), "\(text)")
            #expect(text.contains("GRANTED-WATCH"), "\(text)")

            let watches = try bastion.auditRecords("session.watch")
            #expect(watches.map { $0["outcome"] as? String } == ["failure", "success"])
            #expect((watches.last?["details"] as? [String: String])?["as"] == "approver")
            let watchEnds = try await bastion.auditDetails("session.watch_end")
            let watchEnd = try #require(watchEnds.first)
            #expect(watchEnd["end"] == "session ended", "\(watchEnd)")
        }
    }

    @Test("sessions.notify_watchers = false: the watch is audited, the user is not told")
    func quietWatch() async throws {
        try await withRelay(extraConfig: ReplayTests.auditorRole, configure: { $0.sessions.notifyWatchers = false }) { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let carol = try await ReplayTests.auditor(bastion)
            let output = bastion.directory.file("alice-quiet.out")
            let go = bastion.directory.file("go-quiet")
            let pid = try ChildSpawner.spawn(
                [try ProcessRunner.locate("ssh")] + alice.clientOptions(useCertificate: true)
                    + ["-p", String(bastion.endpoints.sshPort), "root@web01@127.0.0.1", "\(Self.waitFor(go)); echo QUIET-DONE"],
                output: output
            )
            defer { ChildSpawner.terminate(pid) }
            var start: [String: String]?
            _ = try await relayPoll(timeout: 20) {
                start = try bastion.auditDetailsNow("session.start").first
                return start != nil
            }
            let id = try #require(start?["session_id"])
            async let watching = carol.ssh(["watch", id], answer: .none, useCertificate: true)
            try await Self.release(go, onceWatched: bastion)
            let watched = try await watching
            #expect(watched.stdout.contains("QUIET-DONE"), "\(watched)")
            _ = try await relayPoll(timeout: 15) { ChildSpawner.exitStatus(pid) != nil }
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            #expect(text.contains("QUIET-DONE") && !text.contains("being watched"), "\(text)")
            #expect(try bastion.auditRecords("session.watch").count == 1)
        }
    }

    @Test("a stopped watcher never slows the session: it loses output with a notice, and the session runs at its own pace")
    func stalledWatcher() async throws {
        try await withRelay(extraConfig: ReplayTests.auditorRole) { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let carol = try await ReplayTests.auditor(bastion)
            let ssh = try ProcessRunner.locate("ssh")
            let port = String(bastion.endpoints.sshPort)
            // About 20 MB of output, well past the watcher's 1 MiB buffer, its channel window and the socket buffers.
            let aliceOutput = bastion.directory.file("alice-burst.out")
            let go = bastion.directory.file("go-burst")
            let session = try ChildSpawner.spawn(
                [ssh] + alice.clientOptions(useCertificate: true)
                    + ["-p", port, "root@web01@127.0.0.1", "\(Self.waitFor(go)); head -c 15000000 /dev/urandom | base64 -w 100; echo BURST-DONE"],
                output: aliceOutput
            )
            defer { ChildSpawner.terminate(session) }
            var start: [String: String]?
            _ = try await relayPoll(timeout: 20) {
                start = try bastion.auditDetailsNow("session.start").first
                return start != nil
            }
            let id = try #require(start?["session_id"])
            let watcherOutput = bastion.directory.file("carol-watch.out")
            let watcher = try ChildSpawner.spawn(
                [ssh] + carol.clientOptions(useCertificate: true) + ["-p", port, "carol@127.0.0.1", "watch \(id)"], output: watcherOutput
            )
            defer {
                kill(watcher, SIGCONT)
                ChildSpawner.terminate(watcher)
            }
            let attached = try await relayPoll(timeout: 30, interval: .milliseconds(20)) {
                ((try? String(contentsOfFile: watcherOutput, encoding: .utf8)) ?? "").contains("watching \(id)")
            }
            try #require(attached)
            kill(watcher, SIGSTOP)

            // The session prints everything and ends while the watcher is stopped.
            let began = Date()
            FileManager.default.createFile(atPath: go, contents: Data())
            let ended = try await relayPoll(timeout: 60) { ChildSpawner.exitStatus(session) != nil }
            let seconds = Date().timeIntervalSince(began)
            print("watch: 20 MB session with a stopped watcher ended \(String(format: "%.1f", seconds)) s after the watch began")
            #expect(ended, "the session did not end while its watcher was stopped")
            let aliceText = (try? String(contentsOfFile: aliceOutput, encoding: .utf8)) ?? ""
            #expect(aliceText.hasSuffix("BURST-DONE\n"), "\(aliceText.suffix(200))")

            kill(watcher, SIGCONT)
            let watcherEnded = try await relayPoll(timeout: 30) { ChildSpawner.exitStatus(watcher) != nil }
            #expect(watcherEnded)
            let watched = (try? String(contentsOfFile: watcherOutput, encoding: .utf8)) ?? ""
            #expect(watched.contains("[bastion: watcher fell behind, "), "\(watched.suffix(300))")
            #expect(watched.hasSuffix("bastion: session \(id) ended\r\n\u{1B}[0m\u{1B}[?25h"), "\(watched.suffix(300).debugDescription)")
            let watchEnd = try #require(try await bastion.auditDetails("session.watch_end").first)
            #expect(Int(watchEnd["bytes_skipped"] ?? "") ?? 0 > 1_000_000, "\(watchEnd)")
        }
    }
}
