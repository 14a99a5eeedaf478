import BastionCore
import BastionCrypto
import BastionPostgres
import BastionStore
import BastionTesting
import Foundation
import Synchronization
import Testing

/// Audit key rotation on SQLite and PostgreSQL: checkpoints name their key, the key history
/// carries trust from the first key to the current one, and forgeries of either are found.
@Suite("Audit key rotation")
struct AuditKeyRotationTests {
    /// The private keys of each version, as a provider would find them.
    final class Vault: AuditSigningKeys, Sendable {
        private let keys: Mutex<[Int: Ed25519PrivateKey]>
        init(_ keys: [Int: Ed25519PrivateKey]) { self.keys = Mutex(keys) }
        func add(_ key: Ed25519PrivateKey, version: Int) { keys.withLock { $0[version] = key } }
        func key(_ version: Int) -> Ed25519PrivateKey? { keys.withLock { $0[version] } }
        func signer(version: Int) throws -> any Ed25519Signer {
            guard let key = key(version) else { throw StoreError(.notFound, "no audit key version \(version)") }
            return key
        }
    }

    /// A log checkpointed every 3 records, its first key, and a way to rotate and tamper.
    struct Fixture {
        let backend: StoreBackend
        let directory: TemporaryDirectory?
        let path: String
        let first: Ed25519PrivateKey
        let vault: Vault
        let clock = ManualClock()
        let log: any AuditLogStore

        init(backend: StoreBackend) throws {
            self.backend = backend
            first = try Ed25519PrivateKey()
            vault = Vault([1: first])
            switch backend {
            case .sqlite:
                let directory = try TemporaryDirectory()
                self.directory = directory
                path = directory.file("bastion.sqlite")
            case .postgres:
                directory = nil
                path = try PostgresFixture.shared().createDatabase()
            }
            log = try Self.open(backend, path: path, sealing: .init(key: first, keyVersion: 1, keys: vault, every: 3), clock: clock)
        }

        /// Another process on the same data (e.g. the daemon while `keys rotate-audit` runs).
        func connect(sealing: AuditSealing) throws -> any AuditLogStore {
            try Self.open(backend, path: path, sealing: sealing, clock: clock)
        }

        static func open(_ backend: StoreBackend, path: String, sealing: AuditSealing, clock: ManualClock) throws -> any AuditLogStore {
            switch backend {
            case .sqlite: try DatabasePoolHandle(path: path, sealing: sealing, clock: clock).auditLog
            case .postgres: PostgresAuditLog(database: try PostgresDatabase(url: path), sealing: sealing, clock: clock)
            }
        }

        func append(_ count: Int, on log: (any AuditLogStore)? = nil) throws {
            for index in 0..<count {
                try (log ?? self.log).append(AuditEvent(
                    type: .authLogin, time: clock.now(), actor: .init(user: "alice", method: "publickey"), details: ["n": String(index)]
                ))
                clock.advance(by: 1)
            }
        }

        /// Rotates as `keys rotate-audit` does: makes the next key, the store records it.
        @discardableResult
        func rotate(on log: (any AuditLogStore)? = nil) throws -> AuditKeyEntry {
            let log = log ?? self.log
            let version = try log.keyHistory().last?.version ?? 1
            let next = try Ed25519PrivateKey()
            vault.add(next, version: version + 1)
            return try log.rotateKey(current: try #require(vault.key(version)), next: next.publicKey, at: clock.now()) { entry in
                AuditEvent(type: .keyRotate, time: clock.now(), actor: .init(user: "root", method: "admin-cli"),
                           details: ["key": "audit", "version": String(entry.version)])
            }
        }

        func verify(with key: Ed25519PublicKey? = nil) throws -> AuditVerificationReport {
            try log.verify(publicKey: key ?? first.publicKey, purgeableBefore: RetentionPeriod.floor.cutoff(at: clock.now()))
        }

        /// The whole log as a JSONL export, read back.
        func export() throws -> AuditExport.Contents {
            var lines = [AuditExport.headerLine(.init(publicKey: "", exportedAt: clock.now(), filtered: false, selection: ""), format: .jsonl)]
            for entry in try log.keyHistory() { lines.append(AuditExport.keyLine(entry, format: .jsonl)) }
            for record in try log.search(AuditQuery()) {
                lines.append(AuditExport.recordLine(
                    .init(seq: record.seq, previousHash: record.previousHash, hash: record.hash, bytes: record.recordBytes),
                    summary: (record.time, record.type, record.user, record.target, record.session), format: .jsonl
                ))
            }
            for checkpoint in try log.checkpoints() { lines.append(AuditExport.checkpointLine(checkpoint, format: .jsonl)) }
            return try AuditExport.read(lines.joined(separator: "\n"))
        }

        /// SQL through the `sqlite3` shell or `psql`, with the append-only guards dropped first.
        func tamper(_ statements: String) async throws {
            let guards = backend == .sqlite
                ? "DROP TRIGGER IF EXISTS audit_keys_append_only; DROP TRIGGER IF EXISTS audit_checkpoints_append_only;\n"
                : "ALTER TABLE audit_keys DISABLE TRIGGER USER; ALTER TABLE audit_checkpoints DISABLE TRIGGER USER;\n"
            let result: ProcessRunner.Result
            switch backend {
            case .sqlite:
                result = try await ProcessRunner.run("sqlite3", [path], input: Data((guards + statements).utf8))
            case .postgres:
                let database = String(path.split(separator: "/").last ?? "")
                result = try await offPool { try PostgresFixture.shared().psql(guards + statements, database: database) }
            }
            #expect(result.status == 0, "\(result)")
        }

        /// `checkpoint`'s exact signed message, signed by `key`.
        func resign(_ checkpoint: AuditCheckpoint, with key: Ed25519PrivateKey) throws -> [UInt8] {
            try key.signature(for: AuditCheckpoint.signedMessage(
                seq: checkpoint.seq, hash: checkpoint.hash, timeMilliseconds: checkpoint.timeMilliseconds
            ))
        }

        func bytes(_ value: [UInt8]) -> String {
            backend == .sqlite ? "x'\(AuditChain.hex(value))'" : "'\\x\(AuditChain.hex(value))'::bytea"
        }
    }

    /// Two rotations with records between: 1...7 under v1, the rotation seals 7; v2 from 8.
    static func rotatedTwice(_ backend: StoreBackend) throws -> (Fixture, [AuditKeyEntry]) {
        let fixture = try Fixture(backend: backend)
        try fixture.append(7)
        let second = try fixture.rotate()
        try fixture.append(5)
        let third = try fixture.rotate()
        try fixture.append(4)
        return (fixture, [second, third])
    }

    @Test("rotate twice with records between: each checkpoint names its key, verify and an export verify from the first key", arguments: StoreBackend.allCases)
    func rotateTwice(_ backend: StoreBackend) throws {
        let (fixture, rotations) = try Self.rotatedTwice(backend)
        #expect(rotations.map(\.version) == [2, 3])
        #expect(rotations[0].fromSeq == 8, "the rotation record is the first the new key seals")
        let history = try fixture.log.keyHistory()
        #expect(history.map(\.version) == [1, 2, 3])
        #expect(history[0].publicKey == fixture.first.publicKey)
        for checkpoint in try fixture.log.checkpoints() {
            let expected = history.last { $0.fromSeq <= checkpoint.seq }!.version
            #expect(checkpoint.keyVersion == expected, "checkpoint \(checkpoint.seq)")
        }
        #expect(Set(try fixture.log.checkpoints().map(\.keyVersion)) == [1, 2, 3])
        #expect(try fixture.log.checkpoints().contains { $0.seq == 7 && $0.keyVersion == 1 }, "the rotation sealed the old key's last record")

        let report = try fixture.verify()
        #expect(report.isIntact, "\(report.problems)")
        #expect(report.keyVersions == 3)

        let contents = try fixture.export()
        #expect(contents.keys.count == 3)
        let floor = RetentionPeriod.floor.cutoff(at: fixture.clock.now())
        let offline = AuditExport.verify(contents, publicKey: fixture.first.publicKey, purgeableBefore: floor)
        #expect(offline.isIntact, "\(offline.problems)")

        // Without the history the later keys' checkpoints cannot be trusted.
        var bare = contents
        bare.keys = []
        #expect(AuditExport.verify(bare, publicKey: fixture.first.publicKey, purgeableBefore: floor).problems.contains { $0.kind == .checkpointKey })
        // A stranger's key as anchor trusts nothing.
        let stranger = try Ed25519PrivateKey()
        let untrusted = AuditExport.verify(contents, publicKey: stranger.publicKey, purgeableBefore: floor)
        #expect(untrusted.problems.contains { $0.kind == .keyHistory && $0.detail.contains("not in the key history") }, "\(untrusted.problems)")
        // A later key as anchor authenticates its own and later checkpoints, not the earlier ones.
        let fromSecond = try fixture.verify(with: history[1].publicKey)
        #expect(fromSecond.problems.allSatisfy { $0.kind == .checkpointKey && $0.detail.contains("older than the trusted key") }, "\(fromSecond.problems)")
        #expect(!fromSecond.isIntact)
    }

    @Test("a running process signs with the new key after another rotates; one that cannot load it fails closed", arguments: StoreBackend.allCases)
    func otherProcess(_ backend: StoreBackend) throws {
        let fixture = try Fixture(backend: backend)
        try fixture.append(2)
        let daemon = try fixture.connect(sealing: .init(key: fixture.first, keyVersion: 1, keys: fixture.vault, every: 3))
        let stale = try fixture.connect(sealing: .init(key: fixture.first, keyVersion: 1, every: 3))
        try fixture.rotate()
        try fixture.append(1, on: daemon)
        let sealed = try #require(try daemon.checkpoint())
        #expect(sealed.keyVersion == 2)
        #expect(throws: StoreError.self) { try fixture.append(3, on: stale) }
        #expect(try fixture.verify().isIntact)
    }

    @Test("a forged key history entry (signed by a stranger, its checkpoints re-signed) is BROKEN, naming the entry", arguments: StoreBackend.allCases)
    func forgedHistory(_ backend: StoreBackend) async throws {
        let (fixture, rotations) = try Self.rotatedTwice(backend)
        let stranger = try Ed25519PrivateKey()
        let second = try #require(try fixture.log.keyHistory().first { $0.version == 2 })
        // The stranger introduces itself as version 3, signing the statement itself.
        let forged = try AuditKeyEntry.next(
            after: second, publicKey: stranger.publicKey, fromSeq: rotations[1].fromSeq, time: rotations[1].time, signer: stranger
        )
        var statements = """
            UPDATE audit_keys SET public_key = \(fixture.bytes(stranger.publicKey.rawRepresentation)), \
            signature = \(fixture.bytes(forged.signature)), time_ms = \(forged.timeMilliseconds) WHERE version = 3;

            """
        for checkpoint in try fixture.log.checkpoints() where checkpoint.keyVersion == 3 {
            let resigned = try fixture.resign(checkpoint, with: stranger)
            statements += "UPDATE audit_checkpoints SET signature = \(fixture.bytes(resigned)) WHERE seq = \(checkpoint.seq);\n"
        }
        try await fixture.tamper(statements)
        let report = try fixture.verify()
        #expect(!report.isIntact)
        #expect(report.problems.contains {
            $0.kind == .keyHistory && $0.detail.contains("version 3") && $0.detail.contains("not signed by version 2")
        }, "\(report.problems)")
        #expect(report.problems.contains { $0.kind == .checkpointKey && $0.detail.contains("not reachable") }, "\(report.problems)")
        let text = report.text(source: "test", keyFingerprint: "-", checkedAt: fixture.clock.now())
        #expect(text.contains("RESULT: BROKEN") && text.contains("key_history"), "\(text)")
    }

    @Test("a checkpoint re-signed by a key outside the history, naming an unknown key, or by a retired key is BROKEN", arguments: StoreBackend.allCases)
    func resignedCheckpoint(_ backend: StoreBackend) async throws {
        let (fixture, _) = try Self.rotatedTwice(backend)
        let checkpoints = try fixture.log.checkpoints().filter { $0.keyVersion == 3 }
        try #require(checkpoints.count >= 1)
        let target = checkpoints[0]
        let stranger = try Ed25519PrivateKey()
        let bystranger = try fixture.resign(target, with: stranger)
        try await fixture.tamper("UPDATE audit_checkpoints SET signature = \(fixture.bytes(bystranger)) WHERE seq = \(target.seq);")
        var report = try fixture.verify()
        #expect(report.problems.map(\.kind) == [.checkpointSignature], "\(report.problems)")
        #expect(report.problems.first?.seq == target.seq)

        try await fixture.tamper("UPDATE audit_checkpoints SET key_version = 9 WHERE seq = \(target.seq);")
        report = try fixture.verify()
        #expect(report.problems.contains { $0.kind == .checkpointKey && $0.detail.contains("version 9") }, "\(report.problems)")

        // The first key, leaked after its retirement, signs a checkpoint after its rotation.
        let byRetired = try fixture.resign(target, with: fixture.first)
        try await fixture.tamper("""
            UPDATE audit_checkpoints SET key_version = 1, signature = \(fixture.bytes(byRetired)) WHERE seq = \(target.seq);
            """)
        report = try fixture.verify()
        #expect(report.problems.contains { $0.kind == .checkpointKey && $0.detail.contains("retired key") }, "\(report.problems)")
    }

    @Test("the key history and the checkpoints' keys are append-only in the database", arguments: StoreBackend.allCases)
    func appendOnly(_ backend: StoreBackend) async throws {
        let (fixture, _) = try Self.rotatedTwice(backend)
        let update: ProcessRunner.Result
        let statement = "UPDATE audit_keys SET from_seq = 1 WHERE version = 2;"
        switch backend {
        case .sqlite:
            update = try await ProcessRunner.run("sqlite3", [fixture.path], input: Data(statement.utf8))
        case .postgres:
            let database = String(fixture.path.split(separator: "/").last ?? "")
            update = try await offPool { try PostgresFixture.shared().psql(statement, database: database) }
        }
        #expect(update.status != 0 || update.stderr.contains("append-only"), "\(update)")
        #expect(try fixture.verify().isIntact)
    }
}

/// The key history alone, no database.
@Suite("Audit key trust")
struct AuditKeyTrustTests {
    @Test("an entry signed by its predecessor is trusted; one signed by anyone else is not, nor anything after it")
    func chain() throws {
        let first = try Ed25519PrivateKey()
        let second = try Ed25519PrivateKey()
        let third = try Ed25519PrivateKey()
        let stranger = try Ed25519PrivateKey()
        let one = AuditKeyEntry.first(first.publicKey, time: Date())
        let two = try AuditKeyEntry.next(after: one, publicKey: second.publicKey, fromSeq: 10, time: Date(), signer: first)
        let three = try AuditKeyEntry.next(after: two, publicKey: third.publicKey, fromSeq: 20, time: Date(), signer: second)
        #expect(AuditKeyTrust(anchor: first.publicKey, history: [one, two, three]).trusted == [1, 2, 3])
        #expect(AuditKeyTrust(anchor: first.publicKey, history: [one, two, three]).problems.isEmpty)

        let forgedTwo = try AuditKeyEntry.next(after: one, publicKey: second.publicKey, fromSeq: 10, time: Date(), signer: stranger)
        let trust = AuditKeyTrust(anchor: first.publicKey, history: [one, forgedTwo, three])
        #expect(trust.trusted == [1])
        #expect(trust.problems.count == 1 && trust.problems[0].detail.contains("version 2"), "\(trust.problems)")

        // The statement binds from_seq: moving the new key's start breaks the signature.
        var moved = two
        moved.fromSeq = 5
        #expect(AuditKeyTrust(anchor: first.publicKey, history: [one, moved, three]).trusted == [1])
        // A gap in versions is reported.
        #expect(AuditKeyTrust(anchor: first.publicKey, history: [one, three]).problems.contains { $0.kind == .keyHistory })
    }
}
