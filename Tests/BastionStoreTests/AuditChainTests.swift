import BastionCore
import BastionCrypto
import BastionPostgres
import BastionStore
import BastionTesting
import Foundation
import Testing

/// The audit chain on a real SQLite file and a real PostgreSQL database, tampered with by the `sqlite3` shell or `psql` as an
/// administrator with file access would (dropping the append-only triggers first).
@Suite("Audit chain")
struct AuditChainTests {
    /// A log with `count` records, a checkpoint every 10 (at 10, 20, 30…), on SQLite or on
    /// PostgreSQL, tampered with through `sqlite3` or `psql` as an administrator would.
    struct Fixture {
        let backend: StoreBackend
        let directory: TemporaryDirectory?
        /// The SQLite file, or the PostgreSQL URL.
        let path: String
        let key: Ed25519PrivateKey
        let clock: ManualClock
        let log: any AuditLogStore

        init(records count: Int, every: Int = 10, backend: StoreBackend = .sqlite) throws {
            self.backend = backend
            key = try Ed25519PrivateKey()
            clock = ManualClock()
            switch backend {
            case .sqlite:
                let directory = try TemporaryDirectory()
                self.directory = directory
                path = directory.file("bastion.sqlite")
                log = try DatabasePoolHandle(path: path, sealing: .init(key: key, every: every), clock: clock).auditLog
            case .postgres:
                directory = nil
                path = try PostgresFixture.shared().createDatabase()
                log = PostgresAuditLog(database: try PostgresDatabase(url: path), sealing: .init(key: key, every: every), clock: clock)
            }
            for index in 1...count { try append(index) }
        }

        func append(_ index: Int) throws {
            try log.append(AuditEvent(
                type: index % 3 == 0 ? .authFailed : .authLogin, time: clock.now(),
                actor: .init(user: index % 2 == 0 ? "alice" : "bob", method: "publickey+totp"), details: ["n": String(index)]
            ))
            clock.advance(by: 1)
        }

        func verify(from: Int64? = nil, to: Int64? = nil) throws -> AuditVerificationReport {
            try log.verify(publicKey: key.publicKey, from: from, to: to, purgeableBefore: RetentionPeriod.floor.cutoff(at: clock.now()))
        }

        /// Runs SQL through the `sqlite3` shell on the file or `psql` on the database; true if it succeeded.
        func run(_ statements: String) async throws -> ProcessRunner.Result {
            switch backend {
            case .sqlite:
                return try await ProcessRunner.run("sqlite3", [path], input: Data(statements.utf8))
            case .postgres:
                let database = String(path.split(separator: "/").last ?? "")
                return try await offPool { try PostgresFixture.shared().psql(statements, database: database) }
            }
        }

        /// Runs SQL that must succeed.
        func sql(_ statements: String) async throws {
            let result = try await run(statements)
            #expect(result.status == 0, "\(result)")
        }

        /// Removes the append-only guards, as an administrator with full access could.
        var dropGuards: String {
            switch backend {
            case .sqlite:
                """
                DROP TRIGGER audit_records_append_only; DROP TRIGGER audit_records_retained;
                DROP TRIGGER audit_checkpoints_append_only; DROP TRIGGER audit_checkpoints_kept;
                """
            case .postgres:
                "ALTER TABLE audit_records DISABLE TRIGGER USER; ALTER TABLE audit_checkpoints DISABLE TRIGGER USER;\n"
            }
        }

        /// A byte-string literal in this backend's SQL.
        func bytes(hex: String) -> String {
            backend == .sqlite ? "x'\(hex)'" : "'\\x\(hex)'::bytea"
        }

        /// `count` arbitrary bytes, as SQL.
        func arbitraryBytes(_ count: Int) -> String {
            backend == .sqlite ? "randomblob(\(count))" : "decode(repeat('5a', \(count)), 'hex')"
        }
    }

    @Test("a clean log verifies: every record chained, every checkpoint signed", arguments: StoreBackend.allCases)
    func clean(_ backend: StoreBackend) throws {
        let fixture = try Fixture(records: 35, backend: backend)
        let report = try fixture.verify()
        #expect(report.isIntact, "\(report.problems)")
        #expect(report.recordsChecked == 35)
        #expect(report.checkpointsChecked == 3)
        #expect(report.lastCheckpointSeq == 30)
        #expect(report.unsealedRecords == 5)
        #expect(try fixture.log.checkpoint()?.seq == 35)
        #expect(try fixture.log.checkpoint() == nil, "nothing new to seal")
        #expect(try fixture.verify(from: 12, to: 27).isIntact)
        #expect(try fixture.verify(from: 12, to: 27).recordsChecked == 16)
    }

    @Test("the database refuses UPDATE and DELETE of records and checkpoints while its guards stand", arguments: StoreBackend.allCases)
    func guards(_ backend: StoreBackend) async throws {
        let fixture = try Fixture(records: 12, backend: backend)
        for statement in [
            "UPDATE audit_records SET hash = \(fixture.bytes(hex: "00")) WHERE seq = 3;", "DELETE FROM audit_records WHERE seq = 3;",
            "DELETE FROM audit_checkpoints;", "UPDATE audit_checkpoints SET signature = \(fixture.bytes(hex: "00"));",
        ] + (backend == .postgres ? ["TRUNCATE audit_records;", "TRUNCATE audit_checkpoints;", "DELETE FROM audit_chain_head;"] : []) {
            let result = try await fixture.run(statement)
            #expect(result.status != 0, "\(statement) was allowed")
        }
        #expect(try fixture.verify().isIntact)
    }

    @Test("a modified record is reported at its seq", arguments: StoreBackend.allCases)
    func modified(_ backend: StoreBackend) async throws {
        let fixture = try Fixture(records: 35, backend: backend)
        try await fixture.sql(fixture.dropGuards + """
            UPDATE audit_records SET record = replace(record, '"user":"bob"', '"user":"carol"') WHERE seq = 7;
            """)
        let report = try fixture.verify()
        #expect(report.problems.map(\.seq) == [7], "\(report.problems)")
        #expect(report.problems.first?.kind == .altered)
    }

    @Test("a chain rewritten from a record on, hashes recomputed, is caught by the signed checkpoint", arguments: StoreBackend.allCases)
    func rewrittenChain(_ backend: StoreBackend) async throws {
        let fixture = try Fixture(records: 25, backend: backend)
        let records = try fixture.log.search(AuditQuery(fromSeq: 14))
        let hasher = SHA256Hasher()
        var previous = records[0].previousHash
        var statements = fixture.dropGuards
        for record in records {
            let text = String(decoding: record.recordBytes, as: UTF8.self)
            let forged = Array((record.seq == 14 ? text.replacingOccurrences(of: "alice", with: "carol") : text).utf8)
            previous = hasher.hash(previous, forged)
            statements += "UPDATE audit_records SET record = '\(String(decoding: forged, as: UTF8.self))', hash = \(fixture.bytes(hex: AuditChain.hex(previous))) WHERE seq = \(record.seq);\n"
        }
        try await fixture.sql(statements)
        let report = try fixture.verify()
        #expect(report.problems.map(\.seq) == [20], "\(report.problems)")
        #expect(report.problems.first?.kind == .checkpointMismatch)
    }

    @Test("a deleted record is reported as missing at its seq", arguments: StoreBackend.allCases)
    func deleted(_ backend: StoreBackend) async throws {
        let fixture = try Fixture(records: 35, backend: backend)
        try await fixture.sql(fixture.dropGuards + "DELETE FROM audit_records WHERE seq = 12;")
        let report = try fixture.verify()
        #expect(report.problems.map(\.seq) == [12], "\(report.problems)")
        #expect(report.problems.first?.kind == .missing)
    }

    @Test("an inserted record (later ones renumbered) is reported where it went in", arguments: StoreBackend.allCases)
    func inserted(_ backend: StoreBackend) async throws {
        let fixture = try Fixture(records: 35, backend: backend)
        let forged = AuditRecord.envelope(
            event: AuditEvent(type: .authLogin, time: fixture.clock.now(), actor: .init(user: "mallory")).canonicalJSON(), seq: 16
        )
        try await fixture.sql(fixture.dropGuards + """
            UPDATE audit_records SET seq = seq + 1000 WHERE seq >= 16;
            UPDATE audit_records SET seq = seq - 999 WHERE seq >= 1000;
            INSERT INTO audit_records (seq, record, hash) VALUES (16, '\(String(decoding: forged, as: UTF8.self))', \(fixture.arbitraryBytes(32)));
            """)
        let report = try fixture.verify()
        #expect(report.problems.first?.seq == 16, "\(report.problems)")
        #expect(report.problems.first?.kind == .altered)
        #expect(report.problems.dropFirst().first?.seq == 17)
        #expect(report.problems.dropFirst().first?.kind == .moved)
    }

    @Test("two swapped records are reported at the first of them", arguments: StoreBackend.allCases)
    func swapped(_ backend: StoreBackend) async throws {
        let fixture = try Fixture(records: 35, backend: backend)
        try await fixture.sql(fixture.dropGuards + """
            UPDATE audit_records SET seq = -22 WHERE seq = 22;
            UPDATE audit_records SET seq = 22 WHERE seq = 23;
            UPDATE audit_records SET seq = 23 WHERE seq = -22;
            """)
        let report = try fixture.verify()
        #expect(report.problems.first?.seq == 22, "\(report.problems)")
        #expect(report.problems.first?.kind == .moved)
    }

    @Test("a dropped tail is reported against the last checkpoint", arguments: StoreBackend.allCases)
    func truncated(_ backend: StoreBackend) async throws {
        let fixture = try Fixture(records: 35, backend: backend)
        try await fixture.sql(fixture.dropGuards + "DELETE FROM audit_records WHERE seq >= 25;")
        let report = try fixture.verify()
        #expect(report.problems.map(\.seq) == [25], "\(report.problems)")
        #expect(report.problems.first?.kind == .truncated)
    }

    @Test("a replaced checkpoint signature is reported at the checkpoint's seq", arguments: StoreBackend.allCases)
    func forgedSignature(_ backend: StoreBackend) async throws {
        let fixture = try Fixture(records: 35, backend: backend)
        try await fixture.sql(fixture.dropGuards + "UPDATE audit_checkpoints SET signature = \(fixture.arbitraryBytes(64)) WHERE seq = 20;")
        let report = try fixture.verify()
        #expect(report.problems.map(\.seq) == [20], "\(report.problems)")
        #expect(report.problems.first?.kind == .checkpointSignature)
    }

    @Test("the next append after a truncated tail never reuses a seq", arguments: StoreBackend.allCases)
    func noSeqReuse(_ backend: StoreBackend) async throws {
        let fixture = try Fixture(records: 12, backend: backend)
        try await fixture.sql(fixture.dropGuards + "DELETE FROM audit_records WHERE seq >= 11;")
        try fixture.append(13)
        #expect(try fixture.log.bounds()?.upperBound == 13)
        #expect(try fixture.verify().problems.first?.seq == 11)
    }

    @Test("concurrent appenders share commits and still form one chain", arguments: StoreBackend.allCases)
    func groupCommit(_ backend: StoreBackend) async throws {
        let fixture = try Fixture(records: 1, every: 50, backend: backend)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                group.addTask {
                    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                        Thread {
                            continuation.resume(with: Result { for index in 0..<50 { try fixture.append(worker * 100 + index) } })
                        }.start()
                    }
                }
            }
            try await group.waitForAll()
        }
        let report = try fixture.verify()
        #expect(report.isIntact, "\(report.problems)")
        #expect(report.recordsChecked == 401)
        #expect(report.lastCheckpointSeq ?? 0 >= 400)
    }
}

/// A database written before the chain existed (schema 0002) is chained in place at upgrade.
@Suite("Audit chain migration")
struct AuditChainMigrationTests {
    @Test("records of the foundation's audit_events table are chained in their order, and verify")
    func upgradesFoundationRecords() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("bastion.sqlite")
        let old = """
            CREATE TABLE audit_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, type TEXT NOT NULL,
                code TEXT NOT NULL, event_json BLOB NOT NULL);
            CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
            INSERT INTO grdb_migrations VALUES ('0001_identities'), ('0002_sessions');
            CREATE TABLE users (name TEXT PRIMARY KEY NOT NULL, roles TEXT NOT NULL, locked INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL);
            INSERT INTO audit_events (time, type, code, event_json) VALUES
                (1, 'server.start', 'B1400I', CAST('{"code":"B1400I","outcome":"success","severity":"info","time":"2027-01-15T08:00:00.000Z","type":"server.start","v":1}' AS BLOB)),
                (2, 'session.end', 'B2001I', CAST('{"code":"B2001I","details":{"session_id":"s-1"},"outcome":"success","severity":"info","time":"2027-01-15T08:00:01.000Z","type":"session.end","v":1}' AS BLOB));
            """
        let created = try await ProcessRunner.run("sqlite3", [path], input: Data(old.utf8))
        try #require(created.status == 0, "\(created)")
        let key = try Ed25519PrivateKey()
        let handle = try DatabasePoolHandle(path: path, sealing: .init(key: key))
        let records = try handle.auditLog.search(AuditQuery())
        #expect(records.map(\.seq) == [1, 2])
        #expect(records.map(\.type) == ["server.start", "session.end"])
        #expect(records[1].session == "s-1", "v1 records' session id is searchable too")
        try handle.auditLog.append(AuditEvent(type: .serverStart, time: Date()))
        let report = try handle.auditLog.verify(publicKey: key.publicKey, purgeableBefore: .distantPast)
        #expect(report.isIntact, "\(report.problems)")
        #expect(report.recordsChecked == 3)
    }

    @Test("audit records keep the canonical JSON, in order")
    func auditLog() throws {
        let directory = try TemporaryDirectory()
        let handle = try DatabasePoolHandle(path: directory.file("db.sqlite"))
        let event = AuditEvent(
            type: .authFailed, time: Date(timeIntervalSince1970: 1_800_000_000.5), outcome: .failure,
            actor: .init(user: "alice"), reason: "wrong TOTP code"
        )
        try handle.auditLog.append(event)
        try handle.auditLog.append(AuditEvent(type: .authLogin, time: Date(), actor: .init(user: "alice")))
        let records = try handle.auditLog.records()
        #expect(records.map(\.type) == ["auth.failed", "auth.login"])
        #expect(records[0].json == String(decoding: event.canonicalJSON(), as: UTF8.self))
        #expect(records[0].json.hasPrefix(#"{"actor":{"user":"alice"},"code":"B1001W","outcome":"failure","reason":"wrong TOTP code","severity":"warning","time":"2027-01-15T08:00:00.500Z","type":"auth.failed","v":2}"#))
    }
}
