import BastionApp
import BastionCore
import BastionStore
import BastionTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `ssh -J alice@bastion:PORT root@web01`: Bastion answers the `direct-tcpip` channel to a
/// target with its own SSH server, so the session is authenticated, authorised, recorded and
/// audited exactly like `ssh -p PORT root@web01@bastion`. Stock OpenSSH 9.2 on both ends.
@Suite("ssh -J through Bastion", .serialized)
struct JumpTests {
    /// An `ssh -F` file for `engineer`: its key and certificate everywhere (ProxyJump passes only
    /// `-F` to the jump's own ssh), the bastion not checked (other tests do), and targets checked
    /// against `knownHosts` alone.
    static func clientConfig(_ engineer: Engineer, knownHosts: String, in bastion: BastionHarness, batch: Bool = true) throws -> String {
        let path = bastion.directory.file("ssh-config-\(UUID().uuidString)")
        try """
            Host web01 db01
                UserKnownHostsFile \(knownHosts)
                GlobalKnownHostsFile /dev/null
                StrictHostKeyChecking yes
            \(commonOptions(engineer, batch: batch))
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func commonOptions(_ engineer: Engineer, batch: Bool = true) -> String {
        """
        Host *
            IdentityFile \(engineer.keyPath)
            CertificateFile \(batch ? engineer.certificatePath : "/dev/null")
            IdentitiesOnly yes
            UserKnownHostsFile /dev/null
            GlobalKnownHostsFile /dev/null
            StrictHostKeyChecking no
            BatchMode \(batch ? "yes" : "no")
            NumberOfPasswordPrompts 1
            LogLevel ERROR
            ConnectTimeout 10
        """
    }

    /// `bastiond ca show --known-hosts`, run as an operator would, on the same data directory
    /// and targets.
    static func knownHostsLine(_ bastion: BastionHarness, sshd: SSHDFixture) async throws -> String {
        let config = bastion.directory.file("cli-\(UUID().uuidString).toml")
        try BastionHarness.configText(in: bastion.directory, extra: """
            [targets.web01]
            address = "127.0.0.1:\(sshd.port)"
            host_key = "\(sshd.hostKey.authorizedKeysLine)"
            [targets.db01]
            address = "127.0.0.1:\(sshd.port)"
            host_key = "\(sshd.hostKey.authorizedKeysLine)"
            """).write(toFile: config, atomically: true, encoding: .utf8)
        let shown = try await BastiondBinary.run(["ca", "show", "--known-hosts", "--config", config])
        guard shown.status == 0 else { throw HarnessError(message: "ca show --known-hosts: \(shown)") }
        return shown.stdout
    }

    static func jump(_ bastion: BastionHarness, user: String = "alice") -> String { "\(user)@127.0.0.1:\(bastion.endpoints.sshPort)" }

    @Test("stock ssh -J with a certificate runs a command on the target: recorded, audited via jump, host key from ca show --known-hosts")
    func jumpIsRecorded() async throws {
        try await withRelay { bastion, sshd in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let line = try await Self.knownHostsLine(bastion, sshd: sshd)
            let key = bastion.environment.keys.hostPublicKey.authorizedKeysLine
            #expect(line == "db01,[db01]:\(sshd.port),[127.0.0.1]:\(sshd.port),web01,[web01]:\(sshd.port) \(key)\n", "\(line)")
            #expect(!line.contains(sshd.hostKey.authorizedKeysLine), "the jump presents Bastion's key, not the target's")
            let knownHosts = bastion.directory.file("known_hosts")
            try line.write(toFile: knownHosts, atomically: true, encoding: .utf8)
            let config = try Self.clientConfig(alice, knownHosts: knownHosts, in: bastion)

            let result = try await ProcessRunner.run(
                "ssh", ["-F", config, "-J", Self.jump(bastion), "root@web01", "echo through-the-jump; exit 4"], timeout: 30
            )
            #expect(result.status == 4, "\(result)")
            #expect(result.stdout == "through-the-jump\n", "\(result)")
            #expect(sshd.log.contains("Accepted certificate ID \"bastion session="))

            let start = try #require(try await bastion.auditDetails("session.start").first)
            #expect(start["via"] == "jump", "\(start)")
            #expect(start["login"] == "root")
            #expect(start["kind"] == "exec")
            let end = try #require(try await bastion.auditDetails("session.end").first)
            #expect(end["via"] == "jump", "\(end)")
            #expect(end["exit_status"] == "4")
            let recording = try #require(end["recording"])
            #expect(FileManager.default.fileExists(atPath: recording))
            let startRecord = try #require(try bastion.auditRecords("session.start").first)
            #expect(startRecord["target"] as? String == "web01")
            #expect((startRecord["actor"] as? [String: Any])?["user"] as? String == "alice")
            let opened = try await bastion.auditDetails("forward.open")
            #expect(opened.contains { $0["via"] == "jump" && $0["jump_target"] == "web01" }, "\(opened)")
            // The inner login is the jump's too, and leads back to the outer connection.
            let outer = try #require(try bastion.auditRecords("forward.open").first?["connection"] as? [String: Any])["id"] as? String
            let logins = try bastion.auditRecords("auth.login").map { ($0["details"] as? [String: String]) ?? [:] }
            #expect(logins.filter { $0["via"] == "jump" }.map { $0["jump_connection"] } == [outer], "\(logins) outer \(outer ?? "?")")
        }
    }

    @Test("key + TOTP through the jump: the outer and the inner login each take a code, and a code works once")
    func keyAndCodeThroughTheJump() async throws {
        try await withRelay { bastion, sshd in
            let alice = try await bastion.enroll("alice", roles: ["ops"])
            let knownHosts = bastion.directory.file("known_hosts")
            try (try await Self.knownHostsLine(bastion, sshd: sshd)).write(toFile: knownHosts, atomically: true, encoding: .utf8)
            let config = try Self.clientConfig(alice, knownHosts: knownHosts, in: bastion, batch: false)
            let counter = bastion.directory.file("askpass-count")
            func askpass(secondOffset: Int) throws -> String {
                let now = Int(bastion.clock.now().timeIntervalSince1970)
                // The first prompt (the outer login) gets the current code, the second (inner) one
                // the code `secondOffset` seconds on.
                let path = bastion.directory.file("askpass-\(UUID().uuidString)")
                try Engineer.writeExecutable(path, """
                    #!/bin/sh
                    if [ -e \(counter) ]; then exec oathtool --totp -b \(alice.secret) --now @\(now + secondOffset); fi
                    touch \(counter)
                    exec oathtool --totp -b \(alice.secret) --now @\(now)

                    """)
                return path
            }
            func run(_ askpass: String) async throws -> ProcessRunner.Result {
                try? FileManager.default.removeItem(atPath: counter)
                return try await ProcessRunner.run(
                    "ssh", ["-F", config, "-J", Self.jump(bastion), "root@web01", "echo with-codes"],
                    environment: ["SSH_ASKPASS": askpass, "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"], timeout: 30
                )
            }
            // The same code twice: the inner login is refused as a replay.
            let replayed = try await run(try askpass(secondOffset: 0))
            #expect(replayed.status == 255 && !replayed.stdout.contains("with-codes"), "\(replayed)")
            let reasons = try bastion.denialReasons()
            #expect(reasons.contains("TOTP code already used"), "\(reasons)")
            // Thirty seconds on, a fresh code for each: the outer login's is the current step, the
            // inner one's the next (within the allowed skew), as after waiting for the app.
            bastion.clock.advance(by: 30)
            let fresh = try await run(try askpass(secondOffset: 30))
            #expect(fresh.status == 0 && fresh.stdout == "with-codes\n", "\(fresh)")
            let start = try #require(try await bastion.auditDetails("session.start").first)
            #expect(start["via"] == "jump")
        }
    }

    @Test("30 MB each way through the jump arrive intact")
    func bulkThroughTheJump() async throws {
        try await withRelay { bastion, sshd in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let knownHosts = bastion.directory.file("known_hosts")
            try (try await Self.knownHostsLine(bastion, sshd: sshd)).write(toFile: knownHosts, atomically: true, encoding: .utf8)
            let config = try Self.clientConfig(alice, knownHosts: knownHosts, in: bastion)
            let source = bastion.directory.file("bulk.bin")
            let made = try await ProcessRunner.run("sh", ["-c", "head -c 30000000 /dev/urandom > \(source)"])
            #expect(made.status == 0)
            let uploaded = bastion.directory.file("uploaded.bin")
            let jump = Self.jump(bastion)
            let up = try await ProcessRunner.run(
                "sh", ["-c", "ssh -F \(config) -J \(jump) root@web01 'cat > \(uploaded)' < \(source)"], timeout: 120
            )
            #expect(up.status == 0, "\(up)")
            #expect(try await RelayTests.sha256(uploaded) == (try await RelayTests.sha256(source)))
            let downloaded = bastion.directory.file("downloaded.bin")
            let down = try await ProcessRunner.run(
                "sh", ["-c", "ssh -F \(config) -J \(jump) root@web01 'cat \(source)' > \(downloaded)"], timeout: 120
            )
            #expect(down.status == 0, "\(down)")
            #expect(try await RelayTests.sha256(downloaded) == (try await RelayTests.sha256(source)))
        }
    }

    @Test("a chain of two bastions: ssh -J A,B root@web01, A forwarding to B under allow_direct_tcpip, B recording")
    func chainOfTwoBastions() async throws {
        try await withRelay { inner, sshd in
            let outer = try await BastionHarness(extraConfig: """
                [roles.hop]
                allow_direct_tcpip = ["127.0.0.1:\(inner.endpoints.sshPort)"]
                """)
            do {
                let aliceAtA = try await outer.enroll("alice", roles: ["hop"])
                try await aliceAtA.fetchCertificate()
                let aliceAtB = try await RelayTests.operatorWithCertificate(inner)
                let knownHosts = inner.directory.file("known_hosts")
                try (try await Self.knownHostsLine(inner, sshd: sshd)).write(toFile: knownHosts, atomically: true, encoding: .utf8)
                let config = inner.directory.file("chain-config")
                try """
                    Host hopA
                        HostName 127.0.0.1
                        Port \(outer.endpoints.sshPort)
                        User alice
                        IdentityFile \(aliceAtA.keyPath)
                        CertificateFile \(aliceAtA.certificatePath)
                    Host hopB
                        HostName 127.0.0.1
                        Port \(inner.endpoints.sshPort)
                        User alice
                        IdentityFile \(aliceAtB.keyPath)
                        CertificateFile \(aliceAtB.certificatePath)
                    Host web01
                        IdentityFile \(aliceAtB.keyPath)
                        CertificateFile \(aliceAtB.certificatePath)
                        UserKnownHostsFile \(knownHosts)
                        GlobalKnownHostsFile /dev/null
                        StrictHostKeyChecking yes
                    Host *
                        IdentitiesOnly yes
                        UserKnownHostsFile /dev/null
                        GlobalKnownHostsFile /dev/null
                        StrictHostKeyChecking no
                        BatchMode yes
                        LogLevel ERROR
                        ConnectTimeout 10
                    """.write(toFile: config, atomically: true, encoding: .utf8)
                let result = try await ProcessRunner.run("ssh", ["-F", config, "-J", "hopA,hopB", "root@web01", "echo two-hops"], timeout: 30)
                #expect(result.status == 0 && result.stdout == "two-hops\n", "\(result)")
                let forwarded = try await outer.auditDetails("forward.open")
                #expect(forwarded.contains { $0["destination"] == "127.0.0.1:\(inner.endpoints.sshPort)" && $0["via"] == nil }, "\(forwarded)")
                let start = try #require(try await inner.auditDetails("session.start").first)
                #expect(start["via"] == "jump")
            } catch {
                await outer.stop()
                throw error
            }
            await outer.stop()
        }
    }

    @Test("jumps on one connection are capped at max_sessions: one past it is refused and audited")
    func jumpsCappedPerConnection() async throws {
        try await MultiplexingTests.withMaster(maxSessions: 1) { bastion, master in
            let alice = master.alice
            let knownHosts = bastion.directory.file("known_hosts")
            try "web01 \(bastion.environment.keys.hostPublicKey.authorizedKeysLine)\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
            let config = try Self.clientConfig(alice, knownHosts: knownHosts, in: bastion)
            // Both jumps ride the master's one connection.
            let proxy = "ssh -F \(config) -S \(master.control) -o ControlMaster=no -p \(bastion.endpoints.sshPort) -W %h:%p root@web01@127.0.0.1"
            let go = bastion.directory.file("go")
            let output = bastion.directory.file("held.out")
            let held = try SpawnedProcess(
                executable: "ssh", ["-F", config, "-o", "ProxyCommand=\(proxy)", "root@web01", "while [ ! -e \(go) ]; do sleep 0.1; done; echo held"],
                stdout: .file(output), stderr: .file(output + ".err")
            )
            defer { held.signal(SIGKILL) }
            #expect(try await relayPoll(timeout: 20) { try bastion.auditRecords("session.start").count == 1 })
            let second = try await ProcessRunner.run("ssh", ["-F", config, "-o", "ProxyCommand=\(proxy)", "root@web01", "echo second"], timeout: 30)
            #expect(second.status == 255 && !second.stdout.contains("second"), "\(second)")
            let refusals = try bastion.auditRecords("forward.refused").compactMap { $0["reason"] as? String }
            #expect(refusals.contains { $0.contains("ssh -J to web01 past max_sessions (1)") }, "\(refusals)")
            _ = FileManager.default.createFile(atPath: go, contents: Data())
            #expect(try await held.waitForExit(timeout: 20))
            #expect((try? String(contentsOfFile: output, encoding: .utf8)) == "held\n")
        }
    }

    @Test("a known_hosts line with another key fails the jump (StrictHostKeyChecking=yes)")
    func wrongKnownHostsLineFails() async throws {
        try await withRelay { bastion, sshd in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let knownHosts = bastion.directory.file("known_hosts")
            // The target's own key is the wrong one: through the jump, Bastion answers.
            try "web01 \(sshd.hostKey.authorizedKeysLine)\n".write(toFile: knownHosts, atomically: true, encoding: .utf8)
            let config = try Self.clientConfig(alice, knownHosts: knownHosts, in: bastion)
            let result = try await ProcessRunner.run("ssh", ["-F", config, "-J", Self.jump(bastion), "root@web01", "echo ran"], timeout: 30)
            #expect(result.status == 255, "\(result)")
            #expect(!result.stdout.contains("ran"))
            #expect(result.stderr.contains("Host key verification failed") || result.stderr.contains("HOST IDENTIFICATION HAS CHANGED"), "\(result)")
            #expect(try bastion.auditRecords("session.start").isEmpty)
        }
    }

    @Test("the inner login must be the outer connection's user: bob inside alice's jump is refused and audited")
    func differentInnerUserRefused() async throws {
        try await withRelay { bastion, sshd in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let bob = try await bastion.enroll("bob", roles: ["ops"])
            try await bob.fetchCertificate()
            let knownHosts = bastion.directory.file("known_hosts")
            try (try await Self.knownHostsLine(bastion, sshd: sshd)).write(toFile: knownHosts, atomically: true, encoding: .utf8)
            let aliceConfig = try Self.clientConfig(alice, knownHosts: knownHosts, in: bastion)
            let bobConfig = try Self.clientConfig(bob, knownHosts: knownHosts, in: bastion)
            // The outer connection is alice's, the inner login bob's.
            let proxy = "ssh -F \(aliceConfig) -p \(bastion.endpoints.sshPort) -W %h:%p alice@127.0.0.1"
            let result = try await ProcessRunner.run(
                "ssh", ["-F", bobConfig, "-o", "ProxyCommand=\(proxy)", "root@web01", "echo ran"], timeout: 30
            )
            #expect(result.status == 255, "\(result)")
            #expect(!result.stdout.contains("ran"))
            let reasons = try bastion.denialReasons()
            #expect(reasons.contains { $0.contains("not the jump's user (alice)") }, "\(reasons)")
            let refusal = try bastion.auditRecords("auth.failed").first { ($0["reason"] as? String)?.contains("not the jump's user") == true }
            #expect((refusal?["details"] as? [String: String])?["via"] == "jump", "\(String(describing: refusal))")
            #expect(try bastion.auditRecords("session.start").isEmpty)
        }
    }

    @Test("a target is answered by Bastion whatever allow_direct_tcpip says; other destinations still follow it")
    func nonTargetFollowsDirectTCPIP() async throws {
        let listed = try SSHDFixture.freePort()
        try await withRelay(configure: { $0.policy.roles["ops"]?.directTCPIPDestinations = ["127.0.0.1:\(listed)"] }) { bastion, sshd in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let ssh = try ProcessRunner.locate("ssh")
            func stdio(_ destination: String) async throws -> ProcessRunner.Result {
                let arguments = alice.clientOptions(useCertificate: true) + ["-p", String(bastion.endpoints.sshPort), "-W", destination, "alice@127.0.0.1"]
                return try await ProcessRunner.run(ssh, arguments, input: Data(), timeout: 20)
            }
            // The target's name and its address: Bastion's own server answers (libssh's banner,
            // not the target sshd's OpenSSH one), though no role lists them. A client banner
            // and a second of silence let it answer before the end of input.
            for destination in ["web01:22", "127.0.0.1:\(sshd.port)"] {
                let arguments = alice.clientOptions(useCertificate: true) + ["-p", String(bastion.endpoints.sshPort), "-W", destination, "alice@127.0.0.1"]
                let command = "(printf 'SSH-2.0-probe\\r\\n'; sleep 1) | " + ([ssh] + arguments).map(relayShellQuote).joined(separator: " ")
                let answered = try await ProcessRunner.run("sh", ["-c", command], timeout: 20)
                #expect(answered.stdout.hasPrefix("SSH-2.0-libssh"), "\(destination): \(answered)")
            }
            // Listed, not a target: allow_direct_tcpip lets it through (nothing listens there).
            let listedResult = try await stdio("127.0.0.1:\(listed)")
            #expect(listedResult.status != 0, "\(listedResult)")
            let refusals = try bastion.auditRecords("forward.refused").compactMap { $0["reason"] as? String }
            #expect(refusals.contains { $0.contains("127.0.0.1:\(listed): destination unreachable") }, "\(refusals)")
            // Neither a target nor listed: refused by policy, as before.
            let other = try SSHDFixture.freePort()
            let refused = try await stdio("127.0.0.1:\(other)")
            #expect(refused.status != 0 && refused.stderr.contains("stdio forwarding failed"), "\(refused)")
            let policyRefusals = try bastion.auditRecords("forward.refused").compactMap { $0["reason"] as? String }
            #expect(policyRefusals.contains { $0.contains("local port forwarding (direct-tcpip) to 127.0.0.1:\(other)") }, "\(policyRefusals)")
        }
    }

    @Test("ssh-config prints Host blocks with which ssh, scp and rsync reach the target through the jump")
    func sshConfigForScpAndRsync() async throws {
        try await withRelay { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let printed = try await alice.ssh(["ssh-config"], answer: .none, useCertificate: true)
            #expect(printed.status == 0, "\(printed)")
            #expect(printed.stdout.contains("Host web01\n"), "\(printed.stdout)")
            #expect(printed.stdout.contains("ProxyJump alice@127.0.0.1:\(bastion.endpoints.sshPort)"), "\(printed.stdout)")
            #expect(printed.stdout.contains("User root"))
            // Where README's `cert > ~/.ssh/id_TYPE-cert.pub` saves it, for the key alice used; a
            // CertificateFile that is not there (as here) is skipped by ssh without a word.
            #expect(printed.stdout.contains("    CertificateFile ~/.ssh/id_ed25519-cert.pub\n"), "\(printed.stdout)")
            let config = bastion.directory.file("generated-ssh-config")
            try (printed.stdout + "\n" + Self.commonOptions(alice) + "\n").write(toFile: config, atomically: true, encoding: .utf8)

            let ssh = try await ProcessRunner.run("ssh", ["-F", config, "web01", "echo via-config"], timeout: 30)
            #expect(ssh.status == 0 && ssh.stdout == "via-config\n", "\(ssh)")

            let source = bastion.directory.file("payload.bin")
            try Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: URL(fileURLWithPath: source))
            let copied = bastion.directory.file("copied.bin")
            let scp = try await ProcessRunner.run("scp", ["-F", config, "-q", source, "web01:\(copied)"], timeout: 60)
            #expect(scp.status == 0, "\(scp)")
            let digest = try await RelayTests.sha256(source)
            #expect(try await RelayTests.sha256(copied) == digest)
            // scp (SFTP mode) through the jump is parsed like any session: one record with the file's digest.
            let closed = try await FileTransferTests.record(bastion, "file.close") { $0["path"] == copied && $0["bytes_written"] == "300000" }
            #expect(closed?["sha256"] == digest, "no file.close with the copied file's digest")
            #expect(closed?["protocol"] == "sftp")
            let legacy = bastion.directory.file("copied-legacy.bin")
            let scpO = try await ProcessRunner.run("scp", ["-F", config, "-q", "-O", source, "web01:\(legacy)"], timeout: 60)
            #expect(scpO.status == 0, "\(scpO)")
            let legacyClosed = try await FileTransferTests.record(bastion, "file.close") { $0["protocol"] == "scp" && $0["bytes_written"] == "300000" }
            #expect(legacyClosed?["sha256"] == digest, "no scp -O file.close with the file's digest")

            let tree = bastion.directory.file("tree")
            try FileManager.default.createDirectory(atPath: tree + "/sub", withIntermediateDirectories: true)
            try "one\n".write(toFile: tree + "/a.txt", atomically: true, encoding: .utf8)
            try "two\n".write(toFile: tree + "/sub/b.txt", atomically: true, encoding: .utf8)
            let mirrored = bastion.directory.file("mirrored")
            let rsync = try await ProcessRunner.run("rsync", ["-a", "-e", "ssh -F \(config)", tree + "/", "web01:\(mirrored)/"], timeout: 60)
            #expect(rsync.status == 0, "\(rsync)")
            #expect((try? String(contentsOfFile: mirrored + "/sub/b.txt", encoding: .utf8)) == "two\n")

            let starts = try await bastion.auditDetails("session.start")
            #expect(starts.count >= 3 && starts.allSatisfy { $0["via"] == "jump" }, "\(starts)")
        }
    }

    @Test("Ansible (ansible-core) with ProxyJump from ssh-config runs a module on the target: recorded, its files audited")
    func ansibleThroughTheJump() async throws {
        try await withRelay { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let printed = try await alice.ssh(["ssh-config"], answer: .none, useCertificate: true)
            try #require(printed.status == 0, "\(printed)")
            let config = bastion.directory.file("ansible-ssh-config")
            try (printed.stdout + "\n" + Self.commonOptions(alice) + "\n").write(toFile: config, atomically: true, encoding: .utf8)
            let temp = bastion.directory.file("ansible-tmp")
            try FileManager.default.createDirectory(atPath: temp, withIntermediateDirectories: true)
            let version = try await PythonClients.versions(of: "ansible-core", module: "ansible")
            #expect(version.pinned != nil && version.running == version.pinned, "ansible-core from PyPI, as pinned: \(version)")
            var environment = try PythonClients.environment
            environment.merge([
                // Only -F: no ControlPersist master left running after the test.
                "ANSIBLE_SSH_ARGS": "-F \(config) -o ControlMaster=no -o ControlPath=none",
                "ANSIBLE_LOCAL_TEMP": temp + "/local", "ANSIBLE_REMOTE_TEMP": temp + "/remote",
                "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_HOME": temp,
            ]) { _, set in set }
            let ansible = try await ProcessRunner.run(
                try PythonClients.ansible, ["web01", "-i", "web01,", "-e", "ansible_python_interpreter=/usr/bin/python3", "-m", "ansible.builtin.command", "-a", "echo via-ansible"],
                environment: environment, timeout: 120
            )
            #expect(ansible.status == 0, "\(ansible)")
            #expect(ansible.stdout.contains("via-ansible"), "\(ansible)")
            let starts = try await bastion.auditDetails("session.start")
            #expect(!starts.isEmpty && starts.allSatisfy { $0["via"] == "jump" }, "\(starts)")
            // Ansible copies its module over SFTP: that file is in the audit log too.
            let module = try await FileTransferTests.record(bastion, "file.close") { ($0["bytes_written"].flatMap(Int.init) ?? 0) > 0 }
            #expect(module?["sha256"]?.count == 64, "no file.close for the module Ansible copied")
        }
    }
}
