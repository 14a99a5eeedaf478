import BastionApp
import BastionCore
import BastionTesting
import Foundation
import Testing

/// Interactive terminals through the relay (a real tmux driving the stock `ssh -tt`), and
/// exit statuses and signals compared with the same commands run on the target directly.
@Suite("Relay: terminals, exit status and signals")
struct RelayTerminalTests {
    // MARK: - An interactive session in tmux

    @Test("an interactive shell in tmux: typed commands run, a resize reaches the target and the recording")
    func tmuxSessionWithResize() async throws {
        try await withRelay { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let ssh = (["ssh"] + alice.clientOptions(useCertificate: true) + ["-p", String(bastion.endpoints.sshPort), "-tt", "root@web01@127.0.0.1"])
                .map(relayShellQuote).joined(separator: " ")
            let tmux = RelayTmux(session: "bastion-relay-\(UUID().uuidString.prefix(8))")
            do {
                try await Self.driveShell(tmux, command: "exec " + ssh, bastion: bastion)
            } catch {
                await tmux.stop()
                throw error
            }
            await tmux.stop()
        }
    }

    private static func driveShell(_ tmux: RelayTmux, command: String, bastion: BastionHarness) async throws {
        try await tmux.start(columns: 100, rows: 30, command: command)
        // The target's login shell is up once it has drawn its prompt (root's ~/.bashrc may be slow).
        let prompted = try await relayPoll(timeout: 20, interval: .milliseconds(200)) {
            try await tmux.lines().contains { !$0.isEmpty }
        }
        try #require(prompted, "no prompt from the target")

        try await tmux.type("echo hello-from-tmux")
        if let pane = try await tmux.waitForLine("hello-from-tmux") { Issue.record("no line \"hello-from-tmux\" in the pane:\n\(pane)") }

        // The PTY the target allocated has the size tmux gave ssh.
        try await tmux.type("stty size")
        if let pane = try await tmux.waitForLine("30 100") { Issue.record("no line \"30 100\" in the pane:\n\(pane)") }

        // A detached session is resized with resize-window (tmux 3.3a); tmux tells ssh
        // (SIGWINCH), ssh sends window-change, Bastion forwards it to the target.
        let resized = try await tmux.run(["resize-window", "-t", tmux.session, "-x", "120", "-y", "40"])
        try #require(resized.status == 0, "\(resized)")
        try await Task.sleep(for: .milliseconds(500))
        try await tmux.type("stty size")
        if let pane = try await tmux.waitForLine("40 120") { Issue.record("no line \"40 120\" in the pane:\n\(pane)") }

        try await tmux.type("exit")
        var pane: [String] = []
        let ended = try await relayPoll(timeout: 15, interval: .milliseconds(200)) {
            guard try await tmux.isRunning else { return true }
            pane = try await tmux.lines()
            return false
        }
        #expect(ended, "ssh in tmux did not end after exit: \(pane)")

        let audited = try await relayPoll(timeout: 10) { !(try bastion.auditDetailsNow("session.end").isEmpty) }
        try #require(audited, "no session.end")
        let start = try #require(try bastion.auditDetailsNow("session.start").first)
        #expect(start["kind"] == "shell")
        let end = try #require(try bastion.auditDetailsNow("session.end").first)
        #expect(end["exit_status"] == "0", "\(end)")
        let path = try #require(end["recording"])

        let replay = try await RelayRecording.asciinemaCat(path)
        #expect(replay.status == 0, "\(replay)")
        #expect(replay.stdout.contains("hello-from-tmux"))
        #expect(replay.stdout.contains("40 120"))

        let header = try RelayRecording.header(path)
        #expect(header["width"] as? Int == 100)
        #expect(header["height"] as? Int == 30)
        let resizes = try RelayRecording.events(path).filter { $0.code == "r" }.map(\.data)
        #expect(resizes.contains("120x40"), "resize events: \(resizes)")
    }

    // MARK: - Exit status and signals, compared with a direct login

    /// A certificate for `root` on the target signed with the upstream CA itself (by
    /// ssh-keygen), so the test can run the same command without Bastion in the way.
    private static func directCredential(_ alice: Engineer, _ bastion: BastionHarness) async throws -> (key: String, certificate: String) {
        let key = bastion.directory.file("alice-direct")
        try FileManager.default.copyItem(atPath: alice.keyPath, toPath: key)
        try FileManager.default.copyItem(atPath: alice.keyPath + ".pub", toPath: key + ".pub")
        let signed = try await ProcessRunner.run(
            "ssh-keygen", ["-q", "-s", bastion.directory.file("data/upstream_ca"), "-I", "direct-test", "-n", "root", "-V", "-5m:+1h", key + ".pub"]
        )
        guard signed.status == 0 else { throw HarnessError(message: "ssh-keygen -s failed: \(signed)") }
        return (key, key + "-cert.pub")
    }

    /// `ssh` options for logging in to the target directly with ``directCredential(_:_:)``.
    private static func directOptions(_ direct: (key: String, certificate: String), port: Int) -> [String] {
        [
            "-F", "/dev/null", "-i", direct.key, "-o", "IdentitiesOnly=yes", "-o", "CertificateFile=\(direct.certificate)",
            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
            "-p", String(port),
        ]
    }

    @Test("exit statuses and deaths by signal look the same through Bastion as directly, and are audited")
    func exitStatusAndSignalsAsDirect() async throws {
        try await withRelay { bastion, sshd in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let direct = try await Self.directCredential(alice, bastion)
            let directOptions = Self.directOptions(direct, port: sshd.port)
            // (command, tty, expected ssh exit status, expected audit field and value)
            let cases: [(String, Bool, Int32, String, String)] = [
                ("exit 3", false, 3, "exit_status", "3"),
                ("exit 3", true, 3, "exit_status", "3"),
                ("exit 0", false, 0, "exit_status", "0"),
                ("kill -TERM $$", false, 255, "exit_signal", "TERM"),
                ("kill -TERM $$", true, 255, "exit_signal", "TERM"),
                ("kill -KILL $$", false, 255, "exit_signal", "KILL"),
            ]
            for (index, (command, tty, status, field, value)) in cases.enumerated() {
                let label = "\(command)\(tty ? " (-tt)" : "")"
                let directly = try await ProcessRunner.run("ssh", directOptions + (tty ? ["-tt"] : []) + ["root@127.0.0.1", command])
                #expect(directly.status == status, "direct \(label): \(directly)")
                let relayed = try await alice.ssh([command], user: "root@web01", answer: .none, useCertificate: true, tty: tty)
                #expect(relayed.status == directly.status, "\(label): relayed \(relayed) direct \(directly)")
                #expect(Self.withoutStartupNoise(relayed.stdout) == Self.withoutStartupNoise(directly.stdout), "\(label)")
                #expect(Self.withoutStartupNoise(relayed.stderr) == Self.withoutStartupNoise(directly.stderr), "\(label)")
                let audited = try await relayPoll(timeout: 10) { try bastion.auditDetailsNow("session.end").count > index }
                try #require(audited, "no session.end for \(label)")
                let end = try bastion.auditDetailsNow("session.end")[index]
                #expect(end[field] == value, "\(label): \(end)")
                if field == "exit_signal" { #expect(end["exit_status"] == nil, "\(label): \(end)") }
            }
        }
    }

    /// Runs `ssh ARGUMENTS`, and once its command has printed "started", stops the client
    /// (SIGSTOP) for `pause` seconds while the command finishes: the client then finds the
    /// whole ending (exit status, EOF, CLOSE) waiting at once, as a slow or busy client does.
    private static func sshPausedAtTheEnd(_ arguments: [String], in directory: TemporaryDirectory, pause: Double) async throws -> PausedResult {
        let name = UUID().uuidString
        let (outPath, errPath) = (directory.file("\(name).out"), directory.file("\(name).err"))
        let process = try SpawnedProcess(executable: "ssh", arguments, stdout: .file(outPath), stderr: .file(errPath))
        defer { process.signal(SIGKILL) }
        let started = try await relayPoll(timeout: 15, interval: .milliseconds(20)) {
            ((try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "").contains("started") || !process.isRunning
        }
        guard started, process.isRunning else { throw HarnessError(message: "ssh did not start its command") }
        process.signal(SIGSTOP)
        try await Task.sleep(for: .seconds(pause))
        process.signal(SIGCONT)
        guard try await process.waitForExit(timeout: 15), let status = process.exitStatus else { throw HarnessError(message: "ssh did not end") }
        return PausedResult(
            status: status, stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        )
    }

    private struct PausedResult: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
    }

    @Test("a client slow to read the session's end gets the same clean close as directly (no \"closed by remote host\")")
    func slowClientCleanClose() async throws {
        try await withRelay { bastion, sshd in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let direct = try await Self.directCredential(alice, bastion)
            // The command outlives "started" by 5 s, so a loaded machine (the CI run, every suite
            // at once) still sees it running when it stops the client; the 6 s pause then covers
            // the command's end.
            let command = "echo started; sleep 5; exit 3"
            let directly = try await Self.sshPausedAtTheEnd(
                Self.directOptions(direct, port: sshd.port) + ["root@127.0.0.1", command], in: bastion.directory, pause: 6
            )
            #expect(directly.status == 3, "\(directly)")
            #expect(Self.withoutStartupNoise(directly.stderr) == "", "\(directly)")
            let relayed = try await Self.sshPausedAtTheEnd(
                alice.clientOptions(useCertificate: true) + ["-p", String(bastion.endpoints.sshPort), "root@web01@127.0.0.1", command],
                in: bastion.directory, pause: 6
            )
            #expect(relayed.status == directly.status, "relayed \(relayed) direct \(directly)")
            #expect(Self.withoutStartupNoise(relayed.stdout) == Self.withoutStartupNoise(directly.stdout))
            #expect(
                Self.withoutStartupNoise(relayed.stderr) == Self.withoutStartupNoise(directly.stderr),
                "the relayed ending must look like sshd's to a slow client"
            )
        }
    }

    @Test("a signal request from the client is forwarded to the target, with the same outcome as directly")
    func clientSignalForwarded() async throws {
        try await withRelay { bastion, sshd in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let direct = try await Self.directCredential(alice, bastion)
            // OpenSSH's ssh cannot send a signal request non-interactively; libssh can. sshd
            // refuses signal requests in root sessions (they run without post-auth privilege
            // separation), logging why: that log line is the evidence that the request arrived,
            // and the command's outcome must be the same with and without Bastion.
            let command = "echo ready; exec sleep 2"
            let refusal = "session_signal_req: session signalling requires privilege separation"
            let directly = try await RelaySignalClient.execAndSignal(
                port: sshd.port, user: "root", keyPath: direct.key, certificatePath: direct.certificate, command: command,
                readyText: "ready", signal: "TERM"
            )
            let directRefusals = sshd.log.components(separatedBy: refusal).count - 1
            #expect(directRefusals == 1, "sshd saw the direct signal request: \(sshd.log)")
            #expect(directly.exitStatus == 0 && directly.exitSignal == nil, "\(directly)")
            let relayed = try await RelaySignalClient.execAndSignal(
                port: bastion.endpoints.sshPort, user: "root@web01", keyPath: alice.keyPath, certificatePath: alice.certificatePath,
                command: command, readyText: "ready", signal: "TERM"
            )
            // A malformed or unknown signal name would be refused earlier ("unsupported signal").
            let refusals = try await relayPoll(timeout: 5) { sshd.log.components(separatedBy: refusal).count - 1 == directRefusals + 1 }
            #expect(refusals, "sshd saw the signal request relayed by Bastion: \(sshd.log)")
            #expect(!sshd.log.contains("unsupported signal"))
            #expect(relayed.exitSignal == directly.exitSignal, "relayed \(relayed) direct \(directly)")
            #expect(relayed.exitStatus == directly.exitStatus, "relayed \(relayed) direct \(directly)")
            #expect(Self.withoutStartupNoise(relayed.stdout) == Self.withoutStartupNoise(directly.stdout))
            let audited = try await relayPoll(timeout: 10) { !(try bastion.auditDetailsNow("session.end").isEmpty) }
            try #require(audited, "no session.end")
            let end = try bastion.auditDetailsNow("session.end").first ?? [:]
            #expect(end["exit_status"] == directly.exitStatus.map(String.init), "\(end) relayed \(relayed) direct \(directly)")
        }
    }

    /// Output without lines from this machine's own shell start-up: root's `~/.bashrc` runs
    /// `pyenv init`, whose shim rehash sometimes prints an `rm:` error when two sessions
    /// start at once, on either path. That is the host's noise, not the relay's.
    static func withoutStartupNoise(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.contains("/.pyenv/") }.joined(separator: "\n")
    }
}

