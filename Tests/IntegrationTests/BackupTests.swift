import BastionApp
import BastionCore
import BastionTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `bastiond backup` end to end with the real binary, sshd, ssh and oathtool: a backup of a
/// running bastiond with a live session, a drill, a wipe, a restore with the offline recovery
/// key, then `audit verify`, a recording export and a TOTP login on the restored installation;
/// and every kind of damage to a backup found by `verify` and `drill`, naming the file.
@Suite("Backups and restore drills")
struct BackupTests {
    /// A bastion installation on disk (config, data, recordings), a recovery key pair made by
    /// `backup keygen`, and web01 (a real sshd trusting the upstream CA).
    final class Installation: Sendable {
        let directory: TemporaryDirectory
        let config: String
        let recoveryKeyFile: String
        let sshd: SSHDFixture?

        init(withTarget: Bool) async throws {
            directory = try TemporaryDirectory(prefix: "bastion-backup")
            recoveryKeyFile = directory.file("recovery.key")
            let keygen = try await RelayDaemonProcess.run(["backup", "keygen", "--out", recoveryKeyFile])
            guard keygen.status == 0, let line = keygen.stdout.firstMatch(of: /recovery_key = "([^"]+)"/).map({ String($0.1) }) else {
                throw HarnessError(message: "keygen: \(keygen)")
            }
            var target = ""
            if withTarget {
                let keys = try KeyMaterial.loadOrCreate(in: directory.file("data"))
                let sshd = try await SSHDFixture.start(trustedCA: keys.upstreamAuthorityPublicKey, logins: ["root"])
                self.sshd = sshd
                target = """
                    [roles.ops]
                    targets = ["web01"]
                    logins = ["root"]
                    [targets.web01]
                    address = "127.0.0.1:\(sshd.port)"
                    host_key = "\(sshd.hostKey.authorizedKeysLine)"
                    """
            } else {
                sshd = nil
            }
            config = directory.file("bastiond.toml")
            try BastionHarness.configText(in: directory, extra: """
                [backup]
                recovery_key = "\(line)"
                \(target)
                """).write(toFile: config, atomically: true, encoding: .utf8)
        }

        deinit { sshd?.stop() }

        var data: String { directory.file("data") }
        var recordings: String { directory.file("recordings") }

        func bastiond(_ arguments: [String], timeout: TimeInterval = 60) async throws -> ProcessRunner.Result {
            try await RelayDaemonProcess.run(arguments + ["--config", config], timeout: timeout)
        }
    }

    /// Every byte of every file under `directory`.
    static func allBytes(under directory: String) throws -> [(String, Data)] {
        try FileManager.default.subpathsOfDirectory(atPath: directory).compactMap { name in
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory + "/" + name, isDirectory: &isDirectory), !isDirectory.boolValue else { return nil }
            return (name, try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
        }
    }

    static func copy(_ source: String, to destination: String) async throws {
        let copied = try await ProcessRunner.run("cp", ["-a", source, destination])
        guard copied.status == 0 else { throw HarnessError(message: "cp: \(copied)") }
    }

    @Test("a backup of a running bastiond with a live session holds no plaintext; drill passes; wipe, restore with the recovery key: audit verify, export and a TOTP login work")
    func backupWipeRestore() async throws {
        let site = try await Installation(withTarget: true)
        let marker = "backup-marker-\(UUID().uuidString.prefix(8))"
        let aliceKey = try await Engineer.makeKey(in: site.directory, name: "alice", type: .ed25519)
        let bobKey = try await Engineer.makeKey(in: site.directory, name: "bob", type: .ed25519)
        let aliceSecret = try await RelayDaemonProcess.addUser("alice", key: aliceKey, roles: ["ops"], config: site.config)
        let bobSecret = try await RelayDaemonProcess.addUser("bob", key: bobKey, roles: ["ops"], config: site.config)

        var daemon = try await RelayDaemonProcess(config: site.config, logPath: site.directory.file("serve.log"))
        var live: SpawnedProcess?
        defer {
            live?.signal(SIGKILL)
            daemon.killNow()
        }
        func options(_ key: String, port: Int) -> [String] {
            [
                "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-p", String(port),
            ]
        }
        /// key + TOTP (oathtool as askpass) buys a certificate: a TOTP login.
        func certificate(_ name: String, key: String, secret: String, port: Int) async throws -> ProcessRunner.Result {
            let askpass = site.directory.file("askpass-\(name)")
            unlink(askpass)
            try "#!/bin/sh\nexec oathtool --totp -b \(secret)\n".write(toFile: askpass, atomically: true, encoding: .utf8)
            chmod(askpass, 0o700)
            let cert = try await ProcessRunner.run(
                "ssh", options(key, port: port) + ["-o", "CertificateFile=/dev/null", "\(name)@127.0.0.1", "cert"],
                environment: ["SSH_ASKPASS": askpass, "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"]
            )
            if cert.status == 0 { try cert.stdout.write(toFile: key + "-cert.pub", atomically: true, encoding: .utf8) }
            return cert
        }

        let cert = try await certificate("alice", key: aliceKey, secret: aliceSecret, port: daemon.sshPort)
        try #require(cert.status == 0, "\(cert)\n\(daemon.log)")
        let ended = try await ProcessRunner.run(
            "ssh", options(aliceKey, port: daemon.sshPort) + ["-o", "CertificateFile=\(aliceKey)-cert.pub", "root@web01@127.0.0.1", "echo \(marker)-ended"]
        )
        try #require(ended.status == 0 && ended.stdout.contains("\(marker)-ended"), "\(ended)\n\(daemon.log)")
        // A session still running while the backup is made.
        live = try SpawnedProcess(
            executable: "ssh",
            options(aliceKey, port: daemon.sshPort) + ["-o", "CertificateFile=\(aliceKey)-cert.pub", "root@web01@127.0.0.1", "echo \(marker)-live; sleep 60"],
            stdout: .file(site.directory.file("live.out"))
        )
        let started = try await relayPoll(timeout: 20, interval: .milliseconds(100)) {
            ((try? String(contentsOfFile: site.directory.file("live.out"), encoding: .utf8)) ?? "").contains("\(marker)-live")
        }
        try #require(started, "\(daemon.log)")

        let backup = site.directory.file("backup")
        let created = try await site.bastiond(["backup", "create", "--to", backup])
        try #require(created.status == 0, "\(created)")
        #expect(created.stdout.contains("recovery key SHA256:"), "\(created)")
        #expect(!created.stderr.contains("not in this backup"), "\(created)")
        let manifest = try BackupManifest.decode(Array(try Data(contentsOf: URL(fileURLWithPath: backup + "/manifest.json"))))
        #expect(manifest.files.contains { $0.path == "keys/master.key" && $0.section == "secrets" })
        #expect(manifest.files.contains { $0.path == "database/bastion.sqlite" && $0.section == "data" })
        #expect(manifest.files.filter { $0.path.hasPrefix("recordings/") && $0.path.hasSuffix(".cast") }.count == 2, "\(manifest.files.map(\.path))")

        // No plaintext: not the session's output, not a key file, not a TOTP secret.
        let secrets = try ["master.key", "audit_key", "user_ca", "ssh_host_ed25519_key"].map {
            try String(contentsOfFile: site.data + "/" + $0, encoding: .utf8)
                .split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        }
        let needles = [marker, aliceSecret, bobSecret] + secrets.map { String($0.prefix(40)) }
        for (name, bytes) in try Self.allBytes(under: backup) {
            let text = String(decoding: bytes, as: UTF8.self)
            for needle in needles {
                let found = text.contains(needle)
                #expect(!found, "\(name) holds plaintext \(needle.prefix(12))…")
            }
        }

        live?.signal(SIGTERM)
        _ = try await live?.waitForExit(timeout: 10)
        try await daemon.signal(SIGTERM)

        let auditKey = try await site.bastiond(["audit", "key"])
        try auditKey.stdout.write(toFile: site.directory.file("audit.pub"), atomically: true, encoding: .utf8)
        let verified = try await RelayDaemonProcess.run(["backup", "verify", backup, "--public-key", site.directory.file("audit.pub")])
        #expect(verified.status == 0 && verified.stdout.contains("backup verify: OK") && verified.stdout.contains("matches --public-key"), "\(verified)")

        let drill = try await site.bastiond(["backup", "drill", backup])
        #expect(drill.status == 0, "\(drill)")
        let pass = try #require(drill.stdout.firstMatch(of: /backup drill: PASS in (\d+\.\d+)s \((\d+) audit records, (\d+) recordings\)/), "\(drill)")
        #expect(Int(pass.3) == 2)
        print("measured drill time (RTO) for the test backup: \(pass.1)s, \(pass.2) records")
        let drilled = try await site.bastiond(["audit", "search", "--type", "backup.drill", "--json"])
        #expect(drilled.stdout.contains(#""outcome":"success""#) && drilled.stdout.contains(manifest.id), "\(drilled)")

        // Lose everything but the backup, the recovery key and the config.
        try FileManager.default.removeItem(atPath: site.data)
        try FileManager.default.removeItem(atPath: site.recordings)
        let withoutKey = try await RelayDaemonProcess.run(["backup", "restore", backup, "--to", site.data, "--recordings", site.recordings, "--config", site.directory.file("none.toml")])
        #expect(withoutKey.status != 0, "the master key is gone with the data directory: \(withoutKey)")
        try? FileManager.default.removeItem(atPath: site.data)
        try? FileManager.default.removeItem(atPath: site.recordings)
        let unpinned = try await site.bastiond(["backup", "restore", backup, "--to", site.data, "--recovery-key", site.recoveryKeyFile])
        #expect(unpinned.status == 1 && unpinned.stderr.contains("needs --public-key"), "a forged backup could be wrapped to the public recovery key: \(unpinned)")
        let restored = try await site.bastiond([
            "backup", "restore", backup, "--to", site.data, "--recovery-key", site.recoveryKeyFile, "--public-key", site.directory.file("audit.pub"),
        ])
        try #require(restored.status == 0, "\(restored)")
        #expect(!restored.stdout.contains("not restored"), "\(restored)")
        #expect(!restored.stdout.contains("not recorded"), "\(restored)")

        let audit = try await site.bastiond(["audit", "verify"])
        #expect(audit.status == 0 && audit.stdout.contains("RESULT: INTACT"), "\(audit)")
        let restoreRecord = try await site.bastiond(["audit", "search", "--type", "backup.restore", "--json"])
        #expect(restoreRecord.stdout.contains(manifest.id), "\(restoreRecord)")

        let sessions = try await site.bastiond(["audit", "search", "--type", "session.end", "--json"])
        let id = try #require(sessions.stdout.firstMatch(of: /"session_id":"([^"]+)"/).map { String($0.1) }, "\(sessions)")
        let exported = try await site.bastiond(["recording", "export", id, "--to", site.directory.file("exported.cast")])
        #expect(exported.status == 0, "\(exported)")
        let cast = (try? String(contentsOfFile: site.directory.file("exported.cast"), encoding: .utf8)) ?? ""
        #expect(cast.contains("\(marker)-ended"), "\(cast)")

        // The restored bastion: same host key, same CA, bob's TOTP seed opens under the restored master key.
        daemon = try await RelayDaemonProcess(config: site.config, logPath: site.directory.file("serve2.log"))
        let bobCert = try await certificate("bob", key: bobKey, secret: bobSecret, port: daemon.sshPort)
        #expect(bobCert.status == 0, "\(bobCert)\n\(daemon.log)")
        let after = try await ProcessRunner.run(
            "ssh", options(bobKey, port: daemon.sshPort) + ["-o", "CertificateFile=\(bobKey)-cert.pub", "root@web01@127.0.0.1", "echo restored-ok"]
        )
        #expect(after.status == 0 && after.stdout.contains("restored-ok"), "\(after)\n\(daemon.log)")
        try await daemon.signal(SIGTERM)

        // A recording altered at the source is backed up faithfully, and the drill refuses it
        // against its session.end record.
        let path = try #require(sessions.stdout.firstMatch(of: /"recording":"([^"]+)"/).map { String($0.1) }, "\(sessions)")
        var recording = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        recording[recording.count - 20] ^= 0x01
        try Data(recording).write(to: URL(fileURLWithPath: path))
        let second = try await site.bastiond(["backup", "create", "--to", site.directory.file("backup2")])
        try #require(second.status == 0, "\(second)")
        let refused = try await site.bastiond(["backup", "drill", site.directory.file("backup2")])
        #expect(refused.status == 1 && refused.stdout.contains("backup drill: FAIL"), "\(refused)")
        #expect(refused.stdout.contains("session \(id): recording \(path) does not match its session.end"), "\(refused)")
    }

    @Test("a flipped byte, a truncated file, a missing file, an extra file and an edited manifest: verify and drill fail, naming the file")
    func damageDetected() async throws {
        let site = try await Installation(withTarget: false)
        let added = try await site.bastiond(["keys", "init"])
        try #require(added.status == 0, "\(added)")
        // A recording-sized file in the recording directory (3 chunks), so truncation can cut at a chunk boundary.
        try FileManager.default.createDirectory(atPath: site.recordings + "/2026/01/02", withIntermediateDirectories: true)
        try Data(repeating: 0x7B, count: 2 * BackupFileCipher.chunkSize + 10).write(to: URL(fileURLWithPath: site.recordings + "/2026/01/02/s1.cast"))
        let backup = site.directory.file("backup")
        let created = try await site.bastiond(["backup", "create", "--to", backup])
        try #require(created.status == 0, "\(created)")
        let clean = try await RelayDaemonProcess.run(["backup", "verify", backup])
        try #require(clean.status == 0, "\(clean)")
        let cleanDrill = try await site.bastiond(["backup", "drill", backup])
        try #require(cleanDrill.status == 0 && cleanDrill.stdout.contains("PASS"), "\(cleanDrill)")

        let recording = "recordings/2026/01/02/s1.cast.enc"
        let cases: [(String, String, (String) throws -> Void)] = [
            ("flipped byte", "database/bastion.sqlite.enc", { copy in
                let path = copy + "/database/bastion.sqlite.enc"
                var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
                bytes[bytes.count / 2] ^= 0x20
                try Data(bytes).write(to: URL(fileURLWithPath: path))
            }),
            ("truncated at a chunk boundary", recording, { copy in
                let path = copy + "/" + recording
                #expect(truncate(path, off_t(4 + 2 * (BackupFileCipher.chunkSize + 16))) == 0)
            }),
            ("missing", "data/audit_key.pub.enc", { copy in try FileManager.default.removeItem(atPath: copy + "/data/audit_key.pub.enc") }),
            ("extra", "keys/stray.enc", { copy in try Data("x".utf8).write(to: URL(fileURLWithPath: copy + "/keys/stray.enc")) }),
            ("edited manifest", "manifest.sig", { copy in
                let path = copy + "/manifest.json"
                let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "\"node\" : \"", with: "\"node\" : \"x")
                try text.write(toFile: path, atomically: true, encoding: .utf8)
            }),
        ]
        for (index, (what, file, damage)) in cases.enumerated() {
            let copy = site.directory.file("damaged-\(index)")
            try await Self.copy(backup, to: copy)
            try damage(copy)
            let verify = try await RelayDaemonProcess.run(["backup", "verify", copy])
            #expect(verify.status == 1, "\(what): \(verify)")
            #expect(verify.stdout.contains("backup verify: FAIL") && verify.stdout.contains("  \(file)"), "\(what): \(verify)")
            let drill = try await site.bastiond(["backup", "drill", copy])
            #expect(drill.status == 1, "\(what): \(drill)")
            #expect(drill.stdout.contains("backup drill: FAIL") && drill.stdout.contains(file), "\(what): \(drill)")
        }
        let failures = try await site.bastiond(["audit", "search", "--type", "backup.drill", "--json"])
        #expect(failures.stdout.components(separatedBy: #""outcome":"failure""#).count - 1 == cases.count, "\(failures)")

        // A file altered and its manifest entry rewritten to match, without the audit key: the
        // signature refuses the restore before anything is decrypted (the cipher's own refusal
        // of a flipped byte is in BastionAppTests/BackupTests).
        let copy = site.directory.file("damaged-reencoded")
        try await Self.copy(backup, to: copy)
        let path = copy + "/" + recording
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[100] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        var manifest = try BackupManifest.decode(Array(try Data(contentsOf: URL(fileURLWithPath: copy + "/manifest.json"))))
        let index = try #require(manifest.files.firstIndex { $0.path + ".enc" == recording })
        manifest.files[index].sha256 = try BackupFileCipher.sha256(ofFile: path).sha256
        try Data(try manifest.encoded()).write(to: URL(fileURLWithPath: copy + "/manifest.json"))
        let auditKey = try await site.bastiond(["audit", "key"])
        try auditKey.stdout.write(toFile: site.directory.file("audit.pub"), atomically: true, encoding: .utf8)
        let restore = try await site.bastiond([
            "backup", "restore", copy, "--to", site.directory.file("restored"), "--recovery-key", site.recoveryKeyFile,
            "--public-key", site.directory.file("audit.pub"),
        ])
        #expect(restore.status == 1 && restore.stderr.contains("manifest.sig"), "an unsigned manifest is refused before decryption: \(restore)")
    }
}
