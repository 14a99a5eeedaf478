import BastionApp
import BastionCore
import BastionCrypto
import BastionTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The master key's rotation with the real bastiond, ssh, sshd and oathtool: rotate, re-wrap,
/// retire, destroy; what still opens afterwards, and what a stolen old key no longer opens.
@Suite("Master key rotation")
struct KeyRotationTests {
    @Test("keys rotate re-wraps seeds and recordings (recordings unchanged), keys retire destroys v1; logins, exports and target tokens survive")
    func rotateRetireDestroy() async throws {
        let directory = try TemporaryDirectory(prefix: "bastion-rotate")
        let config = directory.file("bastiond.toml")
        func write(_ extra: String = "") throws {
            try BastionHarness.configText(in: directory, extra: extra + "\n[keys]\nretire_after = \"1s\"\n").write(toFile: config, atomically: true, encoding: .utf8)
        }
        try write()
        let shown = try await RelayDaemonProcess.run(["ca", "show", "--config", config])
        try #require(shown.status == 0, "\(shown)")
        let upstreamCA = try SSHPublicKey(authorizedKeysLine: try String(contentsOfFile: directory.file("data/upstream_ca.pub"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines))
        let sshd = try await SSHDFixture.start(trustedCA: upstreamCA, logins: ["root"])
        defer { sshd.stop() }
        try write("""
            [roles.ops]
            targets = ["web01"]
            logins = ["root"]
            [targets.web01]
            address = "127.0.0.1:\(sshd.port)"
            host_key = "\(sshd.hostKey.authorizedKeysLine)"
            """)
        let key = try await Engineer.makeKey(in: directory, name: "alice", type: .ed25519)
        let secret = try await RelayDaemonProcess.addUser("alice", key: key, roles: ["ops"], config: config)
        let tokenBefore = try await RelayDaemonProcess.run(["target", "token", "web01", "--token-only", "--config", config])
        let oldMasterKey = try String(contentsOfFile: directory.file("data/master.key"), encoding: .utf8)

        // A recorded session under master key version 1.
        /// A TOTP login; `later` answers with the next step's code (skew allows one step), so a
        /// second login needs no wait for a fresh step.
        func login(_ command: String, port: Int, later: Bool = false) async throws -> ProcessRunner.Result {
            try await ProcessRunner.run(
                "ssh", OneTimeLogin.sshOptions(key: key, port: port, certificate: nil) + ["root@web01@127.0.0.1", command],
                environment: try OneTimeLogin.askpass(secret: secret, in: directory, later: later)
            )
        }
        let first = try await RelayDaemonProcess(config: config, logPath: directory.file("serve-1.log"))
        defer { first.process.signal(SIGKILL) }
        let session = try await login("echo before-rotation", port: first.sshPort)
        #expect(session.status == 0 && session.stdout.contains("before-rotation"), "\(session)")
        try await first.signal(SIGTERM)
        let recording = try #require(RelayRecording.files(under: directory.file("recordings")).first)
        let sealedBefore = try Data(contentsOf: URL(fileURLWithPath: recording))
        let sessionID = URL(fileURLWithPath: recording).deletingPathExtension().lastPathComponent

        let rotated = try await RelayDaemonProcess.run(["keys", "rotate", "--config", config])
        #expect(rotated.status == 0, "\(rotated)")
        #expect(rotated.stdout.contains("master key version 2 is current; re-wrapped 1 sealed secrets and 1 recordings"), "\(rotated)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: recording)) == sealedBefore, "a re-wrap never touches the recording")
        #expect(FileManager.default.fileExists(atPath: recording + ".keys"))
        #expect(FileManager.default.fileExists(atPath: directory.file("data/master-v2.key")))
        let listed = try await RelayDaemonProcess.run(["keys", "list", "--config", config])
        #expect(listed.stdout.contains("v1\tdecrypt-only") && listed.stdout.contains("referenced by: nothing"), "\(listed)")
        #expect(listed.stdout.contains("v2\tactive"), "\(listed)")

        // Past retire_after (1s here) and referenced by nothing: v1 is destroyed.
        try await Task.sleep(for: .milliseconds(1_200))
        let retired = try await RelayDaemonProcess.run(["keys", "retire", "--config", config])
        #expect(retired.status == 0 && retired.stdout.contains("destroyed master key version(s) 1"), "\(retired)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("data/master.key")))
        let again = try await RelayDaemonProcess.run(["keys", "retire", "--config", config])
        #expect(again.stdout.contains("nothing to destroy"), "\(again)")

        // Everything still opens without v1: the seed (a TOTP login), the old recording (its
        // sidecar), and the derived target token is the same.
        let second = try await RelayDaemonProcess(config: config, logPath: directory.file("serve-2.log"))
        defer { second.process.signal(SIGKILL) }
        let after = try await login("echo after-rotation", port: second.sshPort, later: true)
        #expect(after.status == 0 && after.stdout.contains("after-rotation"), "\(after)\n\(second.log)")
        try await second.signal(SIGTERM)
        let exported = directory.file("old.cast")
        let export = try await RelayDaemonProcess.run(["recording", "export", sessionID, "--to", exported, "--config", config])
        #expect(export.status == 0, "\(export)")
        #expect((try? String(contentsOfFile: exported, encoding: .utf8))?.contains("before-rotation") == true)
        let tokenAfter = try await RelayDaemonProcess.run(["target", "token", "web01", "--token-only", "--config", config])
        #expect(tokenAfter.stdout == tokenBefore.stdout && !tokenAfter.stdout.isEmpty, "target tokens survive rotation")

        // What a copy of the old master key opens now: not the re-wrapped data keys.
        let stolen = try SymmetricKey(bytes: Array(try #require(Data(base64Encoded: oldMasterKey.trimmingCharacters(in: .whitespacesAndNewlines)))))
        let sidecar = try #require(RecordingKeySidecar.read(path: recording).last)
        #expect(sidecar.0 == 2)
        #expect(throws: (any Error).self) { try SoftwareMasterKey(key: stolen, version: 2).unwrap(sidecar.1, context: RecordingKeys.wrapContext) }

        let verified = try await RelayDaemonProcess.run(["audit", "verify", "--config", config])
        #expect(verified.status == 0 && verified.stdout.contains("RESULT: INTACT"), "\(verified)")
        for type in ["key.rotate", "key.retire", "key.rewrap", "key.destroy"] {
            let events = try await RelayDaemonProcess.run(["audit", "search", "--type", type, "--config", config, "--json"])
            #expect(events.stdout.contains("\"\(type)\""), "\(type) audited: \(events)")
        }
    }

    @Test("ca rotate: both keys published during the overlap, the next signs after it; old user certificates stop working; keys retire drops the old keys")
    func caRotation() async throws {
        let directory = try TemporaryDirectory(prefix: "bastion-ca-rotate")
        let config = directory.file("bastiond.toml")
        func write(_ extra: String = "") throws {
            try BastionHarness.configText(in: directory, extra: extra).write(toFile: config, atomically: true, encoding: .utf8)
        }
        try write()
        _ = try await RelayDaemonProcess.run(["ca", "show", "--config", config])
        let key = try await Engineer.makeKey(in: directory, name: "alice", type: .ed25519)
        // Rotate both CAs before the targets exist: one target trusts only the old upstream
        // key, one only the next (a target updated early).
        let upstream = try await RelayDaemonProcess.run(["ca", "rotate", "upstream", "--overlap", "40s", "--config", config])
        try #require(upstream.status == 0, "\(upstream)")
        let user = try await RelayDaemonProcess.run(["ca", "rotate", "user", "--overlap", "40s", "--config", config])
        try #require(user.status == 0, "\(user)")
        let rotatedAt = Date()
        let shown = try await RelayDaemonProcess.run(["ca", "show", "--config", config])
        let published = shown.stdout.split(separator: "\n").filter { $0.hasPrefix("ssh-ed25519 ") }
        #expect(published.count == 4 && shown.stdout.contains("rotating:"), "both keys of both CAs: \(shown)")
        let setup = try await RelayDaemonProcess.run(["target", "setup", "--config", config])
        #expect(setup.stdout.components(separatedBy: "bastion-upstream-ca").count - 1 >= 2, "target setup lists both: \(setup)")
        let oldUpstream = try SSHPublicKey(authorizedKeysLine: String(published[2]))
        let newUpstream = try SSHPublicKey(authorizedKeysLine: try #require(upstream.stdout.split(separator: "\n").first { $0.hasPrefix("ssh-ed25519 ") }.map(String.init)))
        let newUser = try SSHPublicKey(authorizedKeysLine: try #require(user.stdout.split(separator: "\n").first { $0.hasPrefix("ssh-ed25519 ") }.map(String.init)))
        let oldTarget = try await SSHDFixture.start(trustedCA: oldUpstream, logins: ["root"])
        defer { oldTarget.stop() }
        let newTarget = try await SSHDFixture.start(trustedCA: newUpstream, logins: ["root"])
        defer { newTarget.stop() }
        try write("""
            [roles.ops]
            targets = ["old", "new"]
            logins = ["root"]
            [targets.old]
            address = "127.0.0.1:\(oldTarget.port)"
            host_key = "\(oldTarget.hostKey.authorizedKeysLine)"
            [targets.new]
            address = "127.0.0.1:\(newTarget.port)"
            host_key = "\(newTarget.hostKey.authorizedKeysLine)"
            """)
        let secret = try await RelayDaemonProcess.addUser("alice", key: key, roles: ["ops"], config: config)
        let daemon = try await RelayDaemonProcess(config: config, logPath: directory.file("serve.log"))
        defer { daemon.process.signal(SIGKILL) }
        func certificate(later: Bool) async throws -> String {
            let path = try await OneTimeLogin.certificate(key: key, port: daemon.sshPort, secret: secret, in: directory, later: later)
            return try await ProcessRunner.run("ssh-keygen", ["-L", "-f", path]).stdout
        }
        func session(_ target: String) async throws -> ProcessRunner.Result {
            try await ProcessRunner.run(
                "ssh", OneTimeLogin.sshOptions(key: key, port: daemon.sshPort, certificate: key + "-cert.pub")
                    + ["root@\(target)@127.0.0.1", "echo on-\(target)"]
            )
        }

        // During the overlap (40 s: long enough for a loaded CI machine to get here): the old keys sign.
        try #require(Date() < rotatedAt.addingTimeInterval(30), "the machine took most of the overlap to get here; the checks below would race it")
        let first = try await certificate(later: false)
        #expect(!first.contains(newUser.fingerprint), "the current user CA signs during the overlap: \(first)")
        let overlapOld = try await session("old")
        #expect(overlapOld.status == 0 && overlapOld.stdout.contains("on-old"), "\(overlapOld)")
        #expect(try await session("new").status != 0, "the next upstream key does not sign yet")

        // After the overlap: the next keys sign, and the old user CA is no longer trusted.
        let wait = rotatedAt.addingTimeInterval(40.5).timeIntervalSinceNow
        if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
        let refused = try await session("new")
        #expect(refused.status != 0, "a certificate from the old user CA is refused after the overlap: \(refused)")
        let second = try await certificate(later: true)
        #expect(second.contains("Signing CA: ED25519 \(newUser.fingerprint)"), "\(second)")
        let afterNew = try await session("new")
        #expect(afterNew.status == 0 && afterNew.stdout.contains("on-new"), "\(afterNew)\n\(daemon.log)")
        #expect(try await session("old").status != 0, "the old upstream key signs no more")
        try await daemon.signal(SIGTERM)

        // keys retire drops the old CA keys; afterwards only the next ones are published.
        let retired = try await RelayDaemonProcess.run(["keys", "retire", "--config", config])
        #expect(retired.stdout.contains("dropped the old user CA key") && retired.stdout.contains("dropped the old upstream CA key"), "\(retired)")
        #expect(!FileManager.default.fileExists(atPath: directory.file("data/user_ca")))
        let after = try await RelayDaemonProcess.run(["ca", "show", "--config", config])
        #expect(after.stdout.contains(newUpstream.authorizedKeysLine) && !after.stdout.contains(oldUpstream.authorizedKeysLine), "\(after)")
        for type in ["ca.rotate"] {
            let events = try await RelayDaemonProcess.run(["audit", "search", "--type", type, "--config", config, "--json"])
            #expect(events.stdout.components(separatedBy: "\"ca.rotate\"").count - 1 == 4, "two rotations, two completions: \(events)")
        }
    }
}
