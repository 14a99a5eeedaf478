@testable import BastionApp
import BastionCore
import BastionCrypto
import BastionTesting
import Foundation
import Logging
import Testing

/// The pieces of `bastiond backup` that need no daemon: the file cipher, the recovery key,
/// the manifest's path rules and the `[backup]` section (IntegrationTests/BackupTests.swift
/// drives the real binary).
@Suite("Backups")
struct BackupTests {
    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    static func decrypt(_ path: String, key: SymmetricKey, name: String) throws -> [UInt8] {
        var out: [UInt8] = []
        try BackupFileCipher.open(source: path, key: key, path: name) { out += $0 }
        return out
    }

    @Test("files of 0, 1, one chunk, one chunk + 1 and three chunks round-trip, with one tag per chunk",
          arguments: [0, 1, BackupFileCipher.chunkSize, BackupFileCipher.chunkSize + 1, 3 * BackupFileCipher.chunkSize - 7])
    func roundTrip(size: Int) throws {
        let directory = try TemporaryDirectory(prefix: "backup-cipher")
        let plain = (0..<size).map { UInt8(truncatingIfNeeded: $0 * 31 + 7) }
        try Self.write(plain, to: directory.file("plain"))
        let key = SymmetricKey.random()
        let sealed = try BackupFileCipher.seal(source: directory.file("plain"), destination: directory.file("sealed"), key: key, path: "data/x")
        let chunks = max(1, (size + BackupFileCipher.chunkSize - 1) / BackupFileCipher.chunkSize)
        #expect(sealed.size == 4 + size + 16 * chunks)
        #expect(sealed.plainSize == size)
        #expect(try BackupFileCipher.sha256(ofFile: directory.file("sealed")).sha256 == sealed.sha256)
        #expect(try Self.decrypt(directory.file("sealed"), key: key, name: "data/x") == plain)
    }

    @Test("a flipped byte, a truncation (mid-chunk and at a chunk boundary), another path and another key are all refused, naming the file")
    func tamperingRefused() throws {
        let directory = try TemporaryDirectory(prefix: "backup-cipher")
        let plain = [UInt8](repeating: 0x41, count: 2 * BackupFileCipher.chunkSize + 100)
        try Self.write(plain, to: directory.file("plain"))
        let key = SymmetricKey.random()
        _ = try BackupFileCipher.seal(source: directory.file("plain"), destination: directory.file("sealed"), key: key, path: "recordings/a.cast")
        let good = Array(try Data(contentsOf: URL(fileURLWithPath: directory.file("sealed"))))

        func expectRefused(_ bytes: [UInt8], key: SymmetricKey = key, path: String = "recordings/a.cast", _ comment: Comment) throws {
            try Self.write(bytes, to: directory.file("bad"))
            #expect(throws: BackupError.self, comment) { _ = try Self.decrypt(directory.file("bad"), key: key, name: path) }
            do { _ = try Self.decrypt(directory.file("bad"), key: key, name: path) } catch { #expect("\(error)".hasPrefix(path), "\(error)") }
        }
        var flipped = good
        flipped[BackupFileCipher.chunkSize + 40] ^= 0x01
        try expectRefused(flipped, "a flipped byte")
        try expectRefused(Array(good.dropLast(50)), "cut mid-chunk")
        try expectRefused(Array(good.prefix(4 + 2 * (BackupFileCipher.chunkSize + 16))), "cut at a chunk boundary")
        try expectRefused(Array(good.prefix(4 + BackupFileCipher.chunkSize + 16)), "cut at the first chunk boundary")
        try expectRefused(good, path: "recordings/b.cast", "moved to another path")
        try expectRefused(good, key: SymmetricKey.random(), "another backup's key")
        var header = good
        header[0] = UInt8(ascii: "X")
        try expectRefused(header, "bad header")
        #expect(try Self.decrypt(directory.file("sealed"), key: key, name: "recordings/a.cast") == plain)
    }

    @Test("X25519 agrees one secret both ways (RFC 7748 §6.1 keys); a recovery wrap opens only with its key and context")
    func recoveryKey() throws {
        func hex(_ text: String) -> [UInt8] {
            stride(from: 0, to: text.count, by: 2).map { UInt8(text.dropFirst($0).prefix(2), radix: 16)! }
        }
        let alice = try X25519PrivateKey(rawRepresentation: hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
        let bob = try X25519PrivateKey(rawRepresentation: hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"))
        #expect(alice.publicKey == hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"))
        #expect(bob.publicKey == hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"))
        #expect(try alice.sharedSecret(with: bob.publicKey) == bob.sharedSecret(with: alice.publicKey))
        #expect(throws: CryptoError.self) { try alice.sharedSecret(with: [UInt8](repeating: 0, count: 32)) }

        let recovery = try RecoveryKey.PrivateKey()
        #expect(try RecoveryKey.PrivateKey(text: recovery.text).publicKey == recovery.publicKey)
        #expect(try RecoveryKey.PublicKey(text: recovery.publicKey.text) == recovery.publicKey)
        #expect(throws: BackupError.self) { try RecoveryKey.PublicKey(text: "ssh-ed25519 AAAA") }
        let dataKey = SymmetricKey.random()
        let ephemeral = try X25519PrivateKey()
        let wrapped = try RecoveryKey.wrap(dataKey, to: recovery.publicKey, ephemeral: ephemeral, context: "b/data")
        #expect(try RecoveryKey.unwrap(wrapped, with: recovery, ephemeralPublicKey: ephemeral.publicKey, context: "b/data").bytes == dataKey.bytes)
        #expect(throws: BackupError.self) { try RecoveryKey.unwrap(wrapped, with: recovery, ephemeralPublicKey: ephemeral.publicKey, context: "b/secrets") }
        #expect(throws: BackupError.self) { try RecoveryKey.unwrap(wrapped, with: try RecoveryKey.PrivateKey(), ephemeralPublicKey: ephemeral.publicKey, context: "b/data") }
    }

    @Test("manifest paths never leave the restore target")
    func safePaths() {
        for path in ["recordings/2026/01/02/x.cast", "data/user_ca.pub", "keys/master.key", "database/bastion.sqlite"] {
            #expect(BackupManifest.isSafe(path), "\(path)")
        }
        for path in ["../etc/passwd", "recordings/../../x", "/etc/passwd", "data", "other/x", "recordings//x", "recordings/./x", "data/"] {
            #expect(!BackupManifest.isSafe(path), "\(path)")
        }
    }

    @Test("[backup]: a recovery key, dir and drill_every parse; a wrong key or a drill without dir names the key and line")
    func configuration() throws {
        let key = try RecoveryKey.PrivateKey().publicKey
        let parsed = try BastionConfiguration.parse(
            "[backup]\nrecovery_key = \"\(key.text)\"\ndir = \"/srv/backups\"\ndrill_every = \"24h\"\n", file: "t.toml"
        )
        #expect(parsed.backup.recoveryKey == key)
        #expect(parsed.backup.directory == "/srv/backups")
        #expect(parsed.backup.drillEvery == 86_400)
        #expect(try BastionConfiguration.parse("", file: "t.toml").backup.drillEvery == nil, "drills are off by default")
        for (text, key, line, reason) in [
            ("[backup]\nrecovery_key = \"ssh-ed25519 AAAA\"\n", "backup.recovery_key", 2, "not a recovery public key"),
            ("[backup]\n\ndrill_every = \"1h\"\n", "backup.drill_every", 3, "needs backup.dir"),
            ("[backup]\ndir = \"/b\"\ndrill_every = \"10s\"\n", "backup.drill_every", 3, "at least 1m"),
            ("[backup]\nrecovery = \"x\"\n", "backup.recovery", 2, "unknown key"),
        ] {
            do {
                _ = try BastionConfiguration.parse(text, file: "t.toml")
                Issue.record("parsed: \(text)")
            } catch {
                #expect(error.key == key && error.line == line && error.reason.contains(reason), "\(error)")
            }
        }
    }

    @Test("backup.drill_every's run drills the newest backup in backup.dir and audits it; no backup there is an audited failure")
    func scheduledDrill() throws {
        let directory = try TemporaryDirectory(prefix: "backup-drill")
        let configuration = try BastionConfiguration.parse("""
            [server]
            data_dir = "\(directory.file("data"))"
            [recording]
            dir = "\(directory.file("recordings"))"
            [backup]
            dir = "\(directory.file("backups"))"
            drill_every = "1h"
            """, file: "t.toml")
        let environment = try BastionEnvironment.open(configuration: configuration)
        let logger = Logger(label: "test")
        try FileManager.default.createDirectory(atPath: directory.file("backups"), withIntermediateDirectories: true)
        try BackupDrillService.drillNewest(in: directory.file("backups"), environment: environment, logger: logger)
        var drills = try environment.auditLog.records(type: "backup.drill")
        #expect(drills.count == 1 && drills[0].json.contains(#""outcome":"failure""#) && drills[0].json.contains("no backup in"), "\(drills.map(\.json))")

        let older = try BackupWriter(environment: environment).create(into: directory.file("backups/a"), now: Date())
        let newer = try BackupWriter(environment: environment).create(into: directory.file("backups/b"), now: Date())
        // The newest by its manifest's time, whatever the names.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -60)], ofItemAtPath: directory.file("backups/b/manifest.json"))
        #expect(BackupDrill.newestBackup(in: directory.file("backups")) == directory.file("backups/a"))
        try BackupDrillService.drillNewest(in: directory.file("backups"), environment: environment, logger: logger)
        drills = try environment.auditLog.records(type: "backup.drill")
        #expect(drills.count == 2 && drills[1].json.contains(#""outcome":"success""#) && drills[1].json.contains(older.manifest.id), "\(drills.map(\.json))")
        #expect(!drills[1].json.contains(newer.manifest.id))
        // No backup without a recovery key holds the private key files.
        #expect(older.manifest.excluded.contains("master.key") && older.manifest.files.allSatisfy { !$0.path.hasPrefix("keys/") })
        #expect(older.warnings.contains { $0.contains("master.key") })
        // The scratch directory is gone.
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.file("data")).allSatisfy { !$0.hasPrefix(".") })
    }
}
