import BastionApp
import BastionCore
import BastionStore
import BastionCrypto
import BastionTesting
import Foundation
import Testing

/// `ssh -p PORT root@web01@bastion`: relayed to a real sshd, recorded, audited.
@Suite("Relay to targets")
struct RelayTests {
    /// An engineer with role `ops` and a fresh certificate.
    static func operatorWithCertificate(_ bastion: BastionHarness) async throws -> Engineer {
        let alice = try await bastion.enroll("alice", roles: ["ops"])
        try await alice.fetchCertificate()
        return alice
    }

    static func sha256(_ path: String) async throws -> String {
        let result = try await ProcessRunner.run("sha256sum", [path])
        return try digest(result.stdout, of: "sha256sum \(path): \(result)")
    }

    /// The digest sha256sum printed first. Throws unless it is 64 hex digits: an empty or cut
    /// digest would match anything by prefix.
    static func digest(_ sha256sumOutput: String, of what: String) throws -> String {
        let first = sha256sumOutput.prefix { !$0.isWhitespace }
        guard first.count == 64, first.allSatisfy(\.isHexDigit) else { throw HarnessError(message: "no SHA-256 digest from \(what)") }
        return String(first)
    }

    @Test("exec relays output and exit status; the session is recorded and audited with the file's SHA-256")
    func execAndExitStatus() async throws {
        try await withRelay { bastion, sshd in
            let alice = try await Self.operatorWithCertificate(bastion)
            let result = try await alice.ssh(["echo out; echo err >&2; exit 3"], user: "root@web01", answer: .none, useCertificate: true)
            #expect(result.status == 3, "\(result)")
            #expect(result.stdout == "out\n")
            #expect(result.stderr == "err\n")
            // The target saw Bastion's per-session certificate, not alice's.
            #expect(sshd.log.contains("Accepted certificate ID \"bastion session="))

            let start = try #require(try await bastion.auditDetails("session.start").first)
            #expect(start["login"] == "root")
            #expect(start["kind"] == "exec")
            let end = try #require(try await bastion.auditDetails("session.end").first)
            #expect(end["exit_status"] == "3")
            let path = try #require(end["recording"])
            #expect(path.hasPrefix(bastion.directory.file("recordings") + "/"))
            #expect(path.hasSuffix("/\(start["session_id"] ?? "?").cast"))
            #expect(end["recording_sha256"] == (try await Self.sha256(path)))
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
            // Sealed at rest: nothing the session printed or ran is in the file, stock asciinema
            // cannot read it, and its asciicast text has the SHA-256 session.end names.
            let sealed = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(SealedRecording.isSealed(prefix: Array(sealed.prefix(8))))
            #expect(!String(decoding: sealed, as: UTF8.self).contains("echo err"), "the command is in the sealed file")
            let plain = try RelayRecording.plaintext(path)
            #expect(end["recording_plain_sha256"] == Hex.string(SHA256.hash(plain)))
            let stock = try await ProcessRunner.run("script", ["-qec", "asciinema cat \(path)", "/dev/null"])
            #expect(stock.status != 0 && !stock.stdout.contains("out\r\n"), "\(stock)")

            // bastiond recording export writes the plain .cast for stock asciinema, audited.
            let config = bastion.directory.file("cli.toml")
            try BastionHarness.configText(in: bastion.directory).write(toFile: config, atomically: true, encoding: .utf8)
            let exported = bastion.directory.file("exported.cast")
            let export = try await BastiondBinary.run(["recording", "export", start["session_id"] ?? "?", "--to", exported, "--config", config])
            #expect(export.status == 0, "\(export)")
            #expect(Array(try Data(contentsOf: URL(fileURLWithPath: exported))) == plain)
            let replay = try await ProcessRunner.run("script", ["-qec", "asciinema cat \(exported)", "/dev/null"])
            #expect(replay.status == 0, "\(replay)")
            #expect(replay.stdout.contains("out"))
            #expect(replay.stdout.contains("err"))
            #expect(try bastion.auditDetailsNow("recording.export").first?["to"] == exported)
            let again = try await BastiondBinary.run(["recording", "export", start["session_id"] ?? "?", "--to", exported, "--config", config])
            #expect(again.status == 1 && again.stderr.contains("cannot create"), "an export never replaces a file: \(again)")
        }
    }

    @Test("a PTY session's recording reproduces its output with asciinema cat")
    func ptySession() async throws {
        try await withRelay { bastion, _ in
            let alice = try await Self.operatorWithCertificate(bastion)
            let result = try await alice.ssh(["printf 'tty: '; tty; echo pty-ok"], user: "root@web01", answer: .none, useCertificate: true, tty: true)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("tty: /dev/pts/"))
            let path = try #require(try await bastion.auditDetails("session.end").first?["recording"])
            let header = try #require(String(decoding: try RelayRecording.plaintext(path), as: UTF8.self).split(separator: "\n").first)
            #expect(header.contains("\"version\": 2"))
            #expect(header.contains("\"bastion\": {\"session_id\""))
            let replay = try await RelayRecording.asciinemaCat(path)
            #expect(replay.status == 0, "\(replay)")
            #expect(replay.stdout.contains("pty-ok"))
        }
    }

    @Test("50 MB up and down through the relay arrive intact, with client re-keys every 4 MB")
    func bulkWithClientRekey() async throws {
        try await withRelay { bastion, _ in
            let alice = try await Self.operatorWithCertificate(bastion)
            let payload = try await Self.makePayload(in: bastion)
            // -v: the client logs its key exchanges.
            let options = ["-o", "RekeyLimit=4M", "-v"]
            for direction in [Direction.up, .down] {
                let result = try await Self.transfer(direction, payload, alice, bastion, options: options)
                #expect(Self.rekeys(in: result.stderr) > 0, "\(direction): no re-key in the client's log:\n\(Self.keyExchangeLines(result.stderr))")
            }
        }
    }

    @Test("50 MB up and down arrive intact with the target re-keying every 5 MB")
    func bulkWithTargetRekey() async throws {
        // DEBUG: sshd logs its key exchanges.
        try await withRelay(sshdConfig: ["RekeyLimit 5M", "LogLevel DEBUG"]) { bastion, sshd in
            let alice = try await Self.operatorWithCertificate(bastion)
            let payload = try await Self.makePayload(in: bastion)
            for direction in [Direction.up, .down] {
                let before = Self.rekeys(in: sshd.log)
                _ = try await Self.transfer(direction, payload, alice, bastion, options: [])
                let log = sshd.log
                #expect(Self.rekeys(in: log) > before, "\(direction): no re-key in sshd's log:\n\(Self.keyExchangeLines(log))")
            }
        }
    }

    enum Direction { case up, down }

    /// 50 MB of random bytes in the harness's directory, and its SHA-256.
    static func makePayload(in bastion: BastionHarness) async throws -> (path: String, digest: String) {
        let path = bastion.directory.file("payload")
        let made = try await ProcessRunner.run("bash", ["-c", "head -c 50M /dev/urandom > \(path)"])
        try #require(made.status == 0, "\(made)")
        return (path, try await sha256(path))
    }

    /// Up: the file piped through Bastion into sha256sum on the target. Down: the target cats
    /// it back into sha256sum here. Either way the digest must be the file's.
    @discardableResult
    static func transfer(
        _ direction: Direction, _ payload: (path: String, digest: String), _ alice: Engineer, _ bastion: BastionHarness, options: [String]
    ) async throws -> ProcessRunner.Result {
        let ssh = (["ssh"] + alice.clientOptions(useCertificate: true) + ["-p", String(bastion.endpoints.sshPort)] + options)
            .map { "'\($0)'" }.joined(separator: " ")
        let command = switch direction {
        case .up: "\(ssh) root@web01@127.0.0.1 sha256sum < \(payload.path)"
        case .down: "\(ssh) root@web01@127.0.0.1 cat \(payload.path) | sha256sum"
        }
        let result = try await ProcessRunner.run("bash", ["-c", command], timeout: 120)
        #expect(result.status == 0, "\(direction): \(result)")
        #expect(try digest(result.stdout, of: "\(direction): \(result.stdout)") == payload.digest)
        // session.end names the bytes that crossed, whatever the .cast shows of them.
        let stream = direction == .up ? "stdin" : "stdout"
        var end: [String: String]?
        for _ in 0..<100 where end == nil {
            end = try bastion.auditDetailsNow("session.end").first { $0["\(stream)_bytes"] == String(50 << 20) }
            if end == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(end?["\(stream)_sha256"] == payload.digest, "\(direction): no session.end with the payload's \(stream) digest")
        if direction == .down, let path = end?["recording"] {
            // Binary output is a marker in the .cast, not 50 MB of escaped U+FFFD.
            let text = try RelayRecording.plaintext(path)
            #expect(String(decoding: text, as: UTF8.self).contains("binary stdout: "), "no binary marker in \(path)")
            #expect(text.count < 1 << 20, "the .cast holds \(text.count) bytes for a binary download")
        }
        return result
    }

    /// Re-keys in an OpenSSH debug log: keys replacing keys in use are logged as "rekeying
    /// out" and "rekeying in" (the first exchange is not). Counted as substrings: OpenSSH
    /// ends its stderr lines with CRLF, one Character that a split on "\n" never meets.
    static func rekeys(in log: String) -> Int {
        log.components(separatedBy: "ssh_set_newkeys: rekeying out").count - 1
    }

    static func keyExchangeLines(_ log: String) -> String {
        log.split(whereSeparator: \.isNewline).filter { $0.contains("KEXINIT") || $0.contains("rekey") }.joined(separator: "\n")
    }

    @Test("scp and sftp (subsystem) work through the relay")
    func scpAndSFTP() async throws {
        try await withRelay { bastion, _ in
            let alice = try await Self.operatorWithCertificate(bastion)
            let source = bastion.directory.file("scp-source")
            try Data((0..<100_000).map { UInt8($0 % 251) }).write(to: URL(fileURLWithPath: source))
            let port = String(bastion.endpoints.sshPort)
            let copied = bastion.directory.file("scp-copy")
            let scp = try await ProcessRunner.run("scp", alice.clientOptions(useCertificate: true) + ["-P", port, source, "root@web01@127.0.0.1:\(copied)"])
            #expect(scp.status == 0, "\(scp)")
            #expect(try await Self.sha256(copied) == (try await Self.sha256(source)))

            let batch = bastion.directory.file("sftp-batch")
            let fetched = bastion.directory.file("sftp-fetched")
            try "get \(copied) \(fetched)\n".write(toFile: batch, atomically: true, encoding: .utf8)
            let sftp = try await ProcessRunner.run("sftp", alice.clientOptions(useCertificate: true) + ["-P", port, "-b", batch, "root@web01@127.0.0.1"])
            #expect(sftp.status == 0, "\(sftp)")
            #expect(try await Self.sha256(fetched) == (try await Self.sha256(source)))
            let kinds = try await bastion.auditDetails("session.start").compactMap { $0["kind"] }
            #expect(kinds.contains("subsystem"))
        }
    }

    @Test("a target whose host key is not the pinned one is refused, with an alert")
    func hostKeyMismatch() async throws {
        let other = SSHPublicKey(ed25519: try Ed25519PrivateKeyFactory.make()).authorizedKeysLine
        try await withRelay(pinnedKey: { _ in other }) { bastion, _ in
            let alice = try await Self.operatorWithCertificate(bastion)
            let result = try await alice.ssh(["id"], user: "root@web01", answer: .none, useCertificate: true)
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr == "bastion: host key mismatch for web01\n")
            #expect(try bastion.auditRecords("target.host_key_mismatch").count == 1)
            #expect(try bastion.auditRecords("session.start").isEmpty)
        }
    }

    @Test("unknown targets and logins the roles do not grant are refused with one line")
    func policyDenials() async throws {
        try await withRelay { bastion, _ in
            let alice = try await Self.operatorWithCertificate(bastion)
            let unknown = try await alice.ssh(["id"], user: "root@nowhere", answer: .none, useCertificate: true)
            #expect(unknown.status == 1)
            #expect(unknown.stderr == "bastion: unknown target nowhere\n")
            let login = try await alice.ssh(["id"], user: "deploy@web01", answer: .none, useCertificate: true)
            #expect(login.status == 1)
            #expect(login.stderr == "bastion: login deploy not allowed on web01\n")
            // db01 is reached through its label? No: it has none, and its name is not web*.
            let db = try await alice.ssh(["id"], user: "root@db01", answer: .none, useCertificate: true)
            #expect(db.stderr == "bastion: unknown target db01\n")
            let bob = try await bastion.enroll("bob", roles: ["engineer"])
            try await bob.fetchCertificate()
            let engineer = try await bob.ssh(["id"], user: "root@web01", answer: .none, useCertificate: true)
            #expect(engineer.stderr == "bastion: login root not allowed on web01\n")
            #expect(try bastion.auditRecords("session.denied").count == 4)
        }
    }

    @Test("targets lists what the user may reach, with logins")
    func targetsCommand() async throws {
        try await withRelay { bastion, _ in
            let alice = try await Self.operatorWithCertificate(bastion)
            let result = try await alice.ssh(["targets"], answer: .none, useCertificate: true)
            #expect(result.status == 0)
            #expect(result.stdout.contains("web01"))
            #expect(result.stdout.contains("root"))
            #expect(!result.stdout.contains("db01"))
        }
    }

    @Test("an idle session is closed with a message")
    func idleTimeout() async throws {
        try await withRelay(configure: { $0.sessions.idleTimeout = 2 }) { bastion, _ in
            let alice = try await Self.operatorWithCertificate(bastion)
            let started = Date()
            let result = try await alice.ssh(["sleep 20"], user: "root@web01", answer: .none, useCertificate: true)
            #expect(result.status == 255, "\(result)")
            #expect(result.stderr.contains("bastion: session idle for 2s; closed"))
            // Well before `sleep 20` would have ended (generous: a loaded CI machine is slow).
            #expect(Date().timeIntervalSince(started) < 18)
            #expect(try await bastion.auditDetails("session.end").first?["end_reason"] == "idle timeout")
        }
    }

    @Test("a live session ends when the user's certificate expires")
    func certificateExpiryEndsSession() async throws {
        try await withRelay { bastion, _ in
            let alice = try await Self.operatorWithCertificate(bastion)
            let clock = bastion.clock
            Task {
                // Once the session runs (its start is audited), the certificate's time is up.
                _ = try await relayPoll(timeout: 20) { try bastion.auditRecords("session.start").count == 1 }
                clock.advance(by: 5 * 3600)
            }
            let result = try await alice.ssh(["sleep 20"], user: "root@web01", answer: .none, useCertificate: true)
            #expect(result.status == 255, "\(result)")
            #expect(result.stderr.contains("your certificate expired"))
            #expect(try await bastion.auditDetails("session.end").first?["end_reason"] == "certificate expired")
        }
    }

    @Test("a live session ends when the user is locked")
    func lockEndsSession() async throws {
        try await withRelay { bastion, _ in
            let alice = try await Self.operatorWithCertificate(bastion)
            let administration = bastion.administration
            Task {
                _ = try await relayPoll(timeout: 20) { try bastion.auditRecords("session.start").count == 1 }
                try administration.lockUser(name: "alice")
            }
            let result = try await alice.ssh(["sleep 20"], user: "root@web01", answer: .none, useCertificate: true)
            #expect(result.status == 255, "\(result)")
            #expect(result.stderr.contains("your account is locked"))
        }
    }

    @Test("no recording, no session: an unusable recording directory refuses the session")
    func recordingUnavailable() async throws {
        try await withRelay(configure: { $0.recording.directory = "/dev/null/recordings" }) { bastion, _ in
            let alice = try await Self.operatorWithCertificate(bastion)
            let result = try await alice.ssh(["id"], user: "root@web01", answer: .none, useCertificate: true)
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr == "bastion: session refused: recording unavailable\n")
            #expect(try bastion.auditRecords("recording.failed").count == 1)
            #expect(try bastion.auditRecords("session.start").isEmpty)
        }
    }
}

/// A fresh Ed25519 public key, for pinning the wrong one.
enum Ed25519PrivateKeyFactory {
    static func make() throws -> BastionCrypto.Ed25519PublicKey { try BastionCrypto.Ed25519PrivateKey().publicKey }
}

/// Sessions that end by rule: the role's maximum length, an administrator's kill.
@Suite("Relay session limits")
struct RelaySessionLimitTests {
    @Test("a role's max_session ends the session with a message")
    func maximumSessionLength() async throws {
        try await withRelay(configure: { $0.policy.roles["ops"]?.maxSessionDuration = 2 }) { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let result = try await alice.ssh(["sleep 20"], user: "root@web01", answer: .none, useCertificate: true)
            #expect(result.status == 255, "\(result)")
            #expect(result.stderr.contains("maximum session length (2s) reached"))
            #expect(try await bastion.auditDetails("session.end").first?["end_reason"] == "maximum session length")
        }
    }

    @Test("session list shows a live session and session kill ends it")
    func listAndKill() async throws {
        try await withRelay { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let sessions = bastion.environment.sessions
            let killer = Task {
                var live: [SessionRecord] = []
                for _ in 0..<100 where live.isEmpty {
                    try await Task.sleep(for: .milliseconds(100))
                    live = try sessions.liveSessions()
                }
                #expect(live.count == 1)
                #expect(live.first?.user == "alice")
                #expect(live.first?.target == "web01")
                #expect(try sessions.requestKill(id: live.first?.id ?? "none"))
            }
            let result = try await alice.ssh(["sleep 20"], user: "root@web01", answer: .none, useCertificate: true)
            try await killer.value
            #expect(result.status == 255, "\(result)")
            #expect(result.stderr.contains("session terminated by an administrator"))
            // The registry is updated just after the client sees the close.
            var live = try sessions.liveSessions()
            for _ in 0..<50 where !live.isEmpty {
                try await Task.sleep(for: .milliseconds(100))
                live = try sessions.liveSessions()
            }
            #expect(live.isEmpty)
            #expect(try !sessions.requestKill(id: "unknown"))
        }
    }
}

/// Targets that cannot be reached, and recordings that stop being writable mid-session.
@Suite("Relay failures")
struct RelayFailureTests {
    @Test("a target nobody answers on is refused with one line")
    func unreachableTarget() async throws {
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        let deadPort = refusing.port
        try await withRelay(extraConfig: """
            [targets.web99]
            address = "127.0.0.1:\(deadPort)"
            host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJG0CHKyK+L6cqs4WBIdUgegtNkBJFdy+kOJwvZqiB/Y"
            """) { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let result = try await alice.ssh(["id"], user: "root@web99", answer: .none, useCertificate: true)
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr == "bastion: target web99 unreachable\n")
            #expect(try bastion.denialReasonsOfSessions().contains { $0.hasPrefix("target web99 unreachable") })
        }
    }

    @Test("a recording that can no longer be written ends the live session (fail closed)")
    func recordingFailsMidSession() async throws {
        let mountPoint = try TemporaryDirectory(prefix: "bastion-tinyfs")
        let mount = try await ProcessRunner.run("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mountPoint.path])
        try #require(mount.status == 0, "tmpfs needs root and mount permission: \(mount)")
        defer { _ = try? ProcessRunner.runBlocking("umount", ["-l", mountPoint.path]) }
        try await withRelay(configure: { $0.recording.directory = mountPoint.path }) { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            // 1 MB of text cannot fit a 64 KiB file system: the recorder fails, the session ends.
            let result = try await alice.ssh(
                ["for i in $(seq 1 200); do head -c 5000 /dev/zero | tr '\\0' x; echo; sleep 0.01; done; sleep 5"],
                user: "root@web01", answer: .none, useCertificate: true
            )
            #expect(result.status == 255, "\(result.status) \(result.stderr)")
            #expect(result.stderr.contains("recording failed; session closed by policy"))
            #expect(try bastion.auditRecords("recording.failed").count == 1)
            #expect(try await bastion.auditDetails("session.end").first?["end_reason"] == "recording failed")
        }
    }
}

extension BastionHarness {
    /// The reasons of the `session.denied` records so far.
    func denialReasonsOfSessions() throws -> [String] {
        try auditRecords("session.denied").compactMap { $0["reason"] as? String }
    }
}

/// `direct-tcpip` (`ssh -L`, `ssh -W`) only to destinations a role lists.
@Suite("Relay port forwarding")
struct RelayForwardingTests {
    @Test("ssh -W reaches an allowed destination through Bastion, and is refused for any other")
    func allowedDestination() async throws {
        let port = try SSHDFixture.freePort()
        let root = try TemporaryDirectory(prefix: "bastion-web")
        try "forwarded-ok\n".write(toFile: root.file("hello.txt"), atomically: true, encoding: .utf8)
        // Spawned with default signal dispositions (ChildSpawner): started through Foundation's
        // Process from a thread that blocks SIGTERM, it ignored the stop and outlived the test.
        let web = try ChildSpawner.spawn([
            try ProcessRunner.locate("python3"), "-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", root.path,
        ])
        defer { ChildSpawner.terminate(web) }
        for _ in 0..<100 {
            if (try? LoopbackSocket(port: port)) != nil { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        try await withRelay(configure: { $0.policy.roles["ops"]?.directTCPIPDestinations = ["127.0.0.1:\(port)"] }) { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let request = Data("GET /hello.txt HTTP/1.0\r\n\r\n".utf8)
            let ssh = try ProcessRunner.locate("ssh")
            let arguments = alice.clientOptions(useCertificate: true) + ["-p", String(bastion.endpoints.sshPort), "-W", "127.0.0.1:\(port)", "alice@127.0.0.1"]
            let allowed = try await ProcessRunner.run(ssh, arguments, input: request, timeout: 20)
            #expect(allowed.stdout.contains("forwarded-ok"), "\(allowed)")
            let opened = try await bastion.auditDetails("forward.open")
            #expect(opened.contains { $0["destination"] == "127.0.0.1:\(port)" })

            let other = try SSHDFixture.freePort()
            let refusedArguments = alice.clientOptions(useCertificate: true) + ["-p", String(bastion.endpoints.sshPort), "-W", "127.0.0.1:\(other)", "alice@127.0.0.1"]
            let refused = try await ProcessRunner.run(ssh, refusedArguments, input: request, timeout: 20)
            #expect(refused.status != 0)
            #expect(refused.stderr.contains("stdio forwarding failed"))
            let refusals = try bastion.auditRecords("forward.refused").compactMap { $0["reason"] as? String }
            #expect(refusals.contains { $0.contains("127.0.0.1:\(other)") })
        }
    }
}

/// Input capture is opt-in: off by default, "i" events when `recording.capture_input = true`.
@Suite("Relay input capture")
struct RelayInputCaptureTests {
    static func recordingAfterPiping(_ text: String, captureInput: Bool) async throws -> String {
        var recording = ""
        try await withRelay(configure: { $0.recording.captureInput = captureInput }) { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let ssh = try ProcessRunner.locate("ssh")
            let arguments = alice.clientOptions(useCertificate: true) + ["-p", String(bastion.endpoints.sshPort), "root@web01@127.0.0.1", "wc -c"]
            let result = try await ProcessRunner.run(ssh, arguments, input: Data(text.utf8), timeout: 20)
            #expect(result.status == 0, "\(result)")
            let path = try #require(try await bastion.auditDetails("session.end").first?["recording"])
            recording = String(decoding: try RelayRecording.plaintext(path), as: UTF8.self)
        }
        return recording
    }

    @Test("what the user types is not recorded by default")
    func offByDefault() async throws {
        let recording = try await Self.recordingAfterPiping("typed-secret\n", captureInput: false)
        #expect(!recording.contains("typed-secret"))
        #expect(!recording.contains("\"i\""))
    }

    @Test("with capture_input, input is recorded as \"i\" events")
    func captured() async throws {
        let recording = try await Self.recordingAfterPiping("typed-secret\n", captureInput: true)
        #expect(recording.contains(#""i", "typed-secret\n""#) || recording.contains(#""i","typed-secret\n""#), "\(recording)")
    }
}

/// Short sessions end cleanly every time: the client reads exit status and CLOSE before
/// Bastion hangs up (a regression seen by the benchmark as 1-5% "closed by remote host").
@Suite("Relay short sessions")
struct RelayShortSessionTests {
    @Test("40 short sessions, 4 at a time, all exit 0")
    func manyShortSessions() async throws {
        try await withRelay { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            var failures: [String] = []
            for _ in 0..<10 {
                try await withThrowingTaskGroup(of: ProcessRunner.Result.self) { group in
                    for _ in 0..<4 {
                        group.addTask { try await alice.ssh(["true"], user: "root@web01", answer: .none, useCertificate: true) }
                    }
                    for try await result in group where result.status != 0 {
                        failures.append("\(result)")
                    }
                }
            }
            #expect(failures.isEmpty, "\(failures.count) failed: \(failures.first ?? "")")
        }
    }
}
