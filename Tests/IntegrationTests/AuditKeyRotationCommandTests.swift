import BastionCore
import BastionCrypto
import BastionTesting
import Foundation
import Testing

/// `bastiond keys rotate-audit` and `audit verify` across rotations, run as the real
/// executable; the key history forged with the real `sqlite3` shell.
@Suite("Audit key rotation commands")
struct AuditKeyRotationCommandTests {
    typealias Bastion = AuditCommandTests.Bastion

    @Test("rotate twice with records between: verify and offline exports INTACT from the first key; old private keys destroyed; a forged entry BROKEN")
    func rotateTwice() async throws {
        let bastion = try await Bastion()
        let anchor = try await bastion.run(["audit", "key"])
        #expect(anchor.stdout.hasPrefix("ssh-ed25519 "), "\(anchor)")
        let data = bastion.directory.file("data")

        let first = try await bastion.run(["keys", "rotate-audit"])
        #expect(first.status == 0, "\(first)")
        #expect(first.stdout.contains("audit key version 2"), "\(first)")
        #expect(!FileManager.default.fileExists(atPath: data + "/audit_key"), "the first private key is destroyed")
        #expect(FileManager.default.fileExists(atPath: data + "/audit_key.pub"), "its public half, the trust anchor, stays")
        #expect(FileManager.default.fileExists(atPath: data + "/audit_key.v2"))
        for command in ["lock", "unlock", "lock"] { #expect(try await bastion.run(["user", command, "alice"]).status == 0) }

        let second = try await bastion.run(["keys", "rotate-audit"])
        #expect(second.status == 0, "\(second)")
        #expect(!FileManager.default.fileExists(atPath: data + "/audit_key.v2"))
        #expect(FileManager.default.fileExists(atPath: data + "/audit_key.v3"))
        for command in ["unlock", "lock", "unlock", "lock"] { #expect(try await bastion.run(["user", command, "alice"]).status == 0) }

        let verified = try await bastion.run(["audit", "verify"])
        #expect(verified.status == 0, "\(verified)")
        #expect(verified.stdout.contains("RESULT: INTACT"), "\(verified)")
        #expect(verified.stdout.contains("key history of 3 keys"), "\(verified)")
        #expect(try await bastion.run(["audit", "key"]).stdout == anchor.stdout, "rotation does not change the trust anchor")
        let history = try await bastion.run(["audit", "key", "--history"])
        #expect(history.stdout.split(separator: "\n").count == 3, "\(history)")

        let rotations = try await bastion.run(["audit", "search", "--type", "key.rotate", "--json"])
        #expect(rotations.stdout.split(separator: "\n").count == 2 && rotations.stdout.contains(#""key":"audit""#), "\(rotations)")
        let destroyed = try await bastion.run(["audit", "search", "--type", "key.destroy", "--json"])
        #expect(destroyed.stdout.split(separator: "\n").count == 2, "\(destroyed)")

        // Elsewhere, with only the first public key.
        let outside = try TemporaryDirectory(prefix: "auditor")
        try anchor.stdout.write(toFile: outside.file("audit.pub"), atomically: true, encoding: .utf8)
        for format in ["jsonl", "csv"] {
            let export = outside.file("export.\(format)")
            let exported = try await bastion.run(["audit", "export", "--format", format, "--output", export])
            #expect(exported.status == 0, "\(exported)")
            let offline = try await ProcessRunner.run(try BastiondBinary.path, ["audit", "verify", "--file", export, "--public-key", outside.file("audit.pub")])
            #expect(offline.status == 0, "\(format): \(offline)")
            #expect(offline.stdout.contains("RESULT: INTACT"), "\(format): \(offline)")
        }

        // Version 3 replaced by a stranger's key: it is not signed by version 2.
        let stranger = try Ed25519PrivateKey()
        let tamper = try await ProcessRunner.run("sqlite3", [bastion.database], input: Data("""
            DROP TRIGGER audit_keys_append_only;
            UPDATE audit_keys SET public_key = x'\(AuditChain.hex(stranger.publicKey.rawRepresentation))' WHERE version = 3;
            """.utf8))
        #expect(tamper.status == 0, "\(tamper)")
        let broken = try await bastion.run(["audit", "verify"])
        #expect(broken.status == 1, "\(broken)")
        #expect(broken.stdout.contains("key_history: audit key version 3"), "\(broken)")
        #expect(broken.stdout.contains("not signed by version 2"), "\(broken)")
    }
}
