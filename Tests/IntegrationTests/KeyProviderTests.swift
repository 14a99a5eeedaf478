import BastionCore
import BastionTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `[keys] provider = "pkcs11"` against a real PKCS#11 module (Debian's softhsm2): the keys are
/// made in the token and used there; what the real bastiond, ssh, sshd and ssh-keygen make of it.
@Suite("Keys in a PKCS#11 token (softhsm2)", .enabled(if: SoftHSMToken.isInstalled))
struct KeyProviderTests {
    final class Fixture: Sendable {
        let directory: TemporaryDirectory
        let token: SoftHSMToken
        let config: String
        let pinFile: String

        init(module: String = SoftHSMToken.modulePath, extra: String = "") async throws {
            directory = try TemporaryDirectory(prefix: "bastion-pkcs11")
            token = try await SoftHSMToken.make(in: directory.path)
            pinFile = directory.file("token.pin")
            try Self.writeSecret(token.pin + "\n", to: pinFile)
            config = directory.file("bastiond.toml")
            try write(module: module, extra: extra)
        }

        func write(module: String = SoftHSMToken.modulePath, extra: String = "") throws {
            try BastionHarness.configText(in: directory, extra: """
                \(extra)
                [keys]
                provider = "pkcs11"
                pkcs11_module = "\(module)"
                pkcs11_token = "\(token.label)"
                pkcs11_pin_file = "\(pinFile)"
                """).write(toFile: config, atomically: true, encoding: .utf8)
        }

        static func writeSecret(_ text: String, to path: String) throws {
            unlink(path)
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            guard fd >= 0 else { throw SoftHSMError(description: "cannot create \(path)") }
            _ = text.withCString { Glibc.write(fd, $0, strlen($0)) }
            close(fd)
        }

        func bastiond(_ arguments: [String]) async throws -> ProcessRunner.Result {
            try await RelayDaemonProcess.run(arguments + ["--config", config], environment: token.environment)
        }
    }

    @Test("serve refuses a token without Bastion's keys, a wrong PIN, an unprotected PIN file and a missing module: the key and the cause, never the PIN")
    func refusals() async throws {
        let fixture = try await Fixture()
        let noKeys = try await fixture.bastiond(["serve"])
        #expect(noKeys.status == 78, "\(noKeys)")
        #expect(noKeys.stderr.contains("keys.pkcs11_token"), "\(noKeys)")
        #expect(noKeys.stderr.contains("bastiond keys init"), "\(noKeys)")

        let made = try await fixture.bastiond(["keys", "init"])
        try #require(made.status == 0, "\(made)")

        try Fixture.writeSecret("9999-0000\n", to: fixture.pinFile)
        let wrongPIN = try await fixture.bastiond(["serve"])
        #expect(wrongPIN.status == 78, "\(wrongPIN)")
        #expect(wrongPIN.stderr.contains("keys.pkcs11_token"), "\(wrongPIN)")
        #expect(wrongPIN.stderr.contains("CKR_PIN_INCORRECT"), "\(wrongPIN)")
        #expect(!wrongPIN.stderr.contains("9999-0000") && !wrongPIN.stdout.contains("9999-0000"), "\(wrongPIN)")

        try Fixture.writeSecret(fixture.token.pin + "\n", to: fixture.pinFile)
        chmod(fixture.pinFile, 0o644)
        let readable = try await fixture.bastiond(["serve"])
        #expect(readable.status == 78, "\(readable)")
        #expect(readable.stderr.contains("keys.pkcs11_pin_file") && readable.stderr.contains("chmod 600"), "\(readable)")
        #expect(!readable.stderr.contains(fixture.token.pin), "\(readable)")
        chmod(fixture.pinFile, 0o600)

        try fixture.write(module: fixture.directory.file("no-such-module.so"))
        let missing = try await fixture.bastiond(["serve"])
        #expect(missing.status == 78, "\(missing)")
        #expect(missing.stderr.contains("keys.pkcs11_module") && missing.stderr.contains("no-such-module.so"), "\(missing)")
    }

    @Test("keys made in the token sign certificates OpenSSH accepts, relay a session, seal the TOTP seed and the audit checkpoints; no key file on disk")
    func endToEnd() async throws {
        let fixture = try await Fixture()
        let made = try await fixture.bastiond(["keys", "init"])
        try #require(made.status == 0, "\(made)")
        for label in ["bastion-master-v1", "bastion-user-ca", "bastion-upstream-ca", "bastion-audit"] {
            #expect(made.stdout.contains("created \(label)"), "\(made)")
        }
        let again = try await fixture.bastiond(["keys", "init"])
        #expect(again.status == 0 && again.stdout.contains("every key exists"), "\(again)")

        // Another program's view of the token: the private keys are there, sensitive and never extractable.
        let objects = try await fixture.token.listObjects()
        #expect(objects.contains("bastion-user-ca") && objects.contains("bastion-master-v1"), "\(objects)")
        #expect(!objects.contains("extractable") || objects.contains("never extractable"), "\(objects)")

        // What a stolen copy of the data directory holds: the host key and a wrapped root, no CA, audit or master key.
        let data = fixture.directory.file("data")
        for file in ["user_ca", "upstream_ca", "audit_key", "master.key"] {
            #expect(!FileManager.default.fileExists(atPath: data + "/" + file), "\(file) exists")
        }

        let shown = try await fixture.bastiond(["ca", "show"])
        try #require(shown.status == 0, "\(shown)")
        let lines = shown.stdout.split(separator: "\n").filter { $0.hasPrefix("ssh-ed25519 ") }
        try #require(lines.count == 2, "\(shown)")
        let userCA = try SSHPublicKey(authorizedKeysLine: String(lines[0]))
        let upstreamCA = try SSHPublicKey(authorizedKeysLine: String(lines[1]))

        let sshd = try await SSHDFixture.start(trustedCA: upstreamCA, logins: ["root"])
        defer { sshd.stop() }
        try fixture.write(extra: """
            [roles.ops]
            targets = ["web01"]
            logins = ["root"]
            [targets.web01]
            address = "127.0.0.1:\(sshd.port)"
            host_key = "\(sshd.hostKey.authorizedKeysLine)"
            """)
        let key = try await Engineer.makeKey(in: fixture.directory, name: "alice", type: .ed25519)
        let secret = try await RelayDaemonProcess.addUser("alice", key: key, roles: ["ops"], config: fixture.config, environment: fixture.token.environment)

        let daemon = try await RelayDaemonProcess(
            config: fixture.config, logPath: fixture.directory.file("serve.log"), environment: fixture.token.environment
        )
        defer { daemon.process.signal(SIGKILL) }
        // TOTP (sealed under the token's master key) and key buy the certificate.
        _ = try await OneTimeLogin.certificate(key: key, port: daemon.sshPort, secret: secret, in: fixture.directory)

        // ssh-keygen names the token's user CA as the signer.
        let listed = try await ProcessRunner.run("ssh-keygen", ["-L", "-f", key + "-cert.pub"])
        #expect(listed.stdout.contains("Signing CA: ED25519 \(userCA.fingerprint)"), "\(listed)")

        // A relayed session: the per-session certificate, signed in the token, is accepted by a real sshd.
        let session = try await ProcessRunner.run(
            "ssh", OneTimeLogin.sshOptions(key: key, port: daemon.sshPort, certificate: key + "-cert.pub") + ["root@web01@127.0.0.1", "printf 'signed-in-the-%s zq%s\\n' token 7blindword"]
        )
        #expect(session.status == 0 && session.stdout.contains("signed-in-the-token"), "\(session)\n\(daemon.log)")

        try await daemon.signal(SIGTERM)
        // A rotation makes the next master key in the token; the session's recording re-wraps under it.
        let rotated = try await fixture.bastiond(["keys", "rotate"])
        #expect(rotated.status == 0 && rotated.stdout.contains("re-wrapped 1 sealed secrets and 1 recordings"), "\(rotated)")
        #expect(try await fixture.token.listObjects().contains("bastion-master-v2"))
        let recordings = RelayRecording.files(under: fixture.directory.file("recordings"))
        let id = try #require(recordings.first.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent })
        let exported = try await fixture.bastiond(["recording", "export", id, "--to", fixture.directory.file("export.cast")])
        #expect(exported.status == 0, "\(exported)")
        #expect((try? String(contentsOfFile: fixture.directory.file("export.cast"), encoding: .utf8))?.contains("signed-in-the-token") == true)
        // A thief's copy of the data and recordings directories: nothing the session printed
        // (the search index holds keyed tokens, not words), and no TOTP seed, anywhere in it.
        // (The command line itself is an audit fact: it is in the audit log by design.)
        let secretBytes = try #require(Data(base32: secret))
        for root in [fixture.directory.file("data"), fixture.directory.file("recordings")] {
            for relative in FileManager.default.enumerator(atPath: root)?.compactMap({ $0 as? String }) ?? [] {
                guard let contents = FileManager.default.contents(atPath: root + "/" + relative) else { continue }
                #expect(contents.range(of: Data("signed-in-the-token".utf8)) == nil, "\(relative) holds the session's output")
                #expect(contents.range(of: Data("zq7blindword".utf8)) == nil, "\(relative) holds a word the session printed")
                #expect(contents.range(of: secretBytes) == nil, "\(relative) holds the TOTP seed")
            }
        }
        // The audit key rotates inside the token too: the next one is made there, the old one
        // signs its successor into the history and is destroyed.
        let auditRotated = try await fixture.bastiond(["keys", "rotate-audit"])
        #expect(auditRotated.status == 0, "\(auditRotated)")
        let objectsAfter = try await fixture.token.listObjects()
        #expect(objectsAfter.contains("bastion-audit-v2"), "\(objectsAfter)")
        let verified = try await fixture.bastiond(["audit", "verify"])
        #expect(verified.status == 0 && verified.stdout.contains("RESULT: INTACT"), "checkpoints signed by the token's audit keys: \(verified)")
        let list = try await fixture.bastiond(["keys", "list"])
        #expect(list.stdout.contains("pkcs11 token \"bastion\" label bastion-user-ca\t\(userCA.fingerprint)"), "\(list)")
    }
}

extension Data {
    /// RFC 4648 base32 (the otpauth:// secret), for looking for the raw seed in files.
    init?(base32 text: String) {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var bits = 0
        var value = 0
        var bytes: [UInt8] = []
        for character in text.uppercased() where character != "=" {
            guard let index = alphabet.firstIndex(of: character) else { return nil }
            value = value << 5 | index
            bits += 5
            if bits >= 8 {
                bytes.append(UInt8((value >> (bits - 8)) & 0xFF))
                bits -= 8
            }
        }
        self.init(bytes)
    }
}
