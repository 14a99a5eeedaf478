import BastionCore
import BastionCrypto
import Foundation
import GRDB

/// The audit chain's tables, and the migration that chains the records written before it.
///
/// Search columns are generated from the record's JSON, never written separately, so an
/// index cannot disagree with the hashed bytes. Time, type and session are indexed; user
/// and target are not: an index whose keys arrive in random order dirties a page per user
/// per commit and halved durable appends/s (`make bench`). A search by user is bounded by
/// `--since`/`--until` through the time index, or scans. Triggers refuse UPDATE and DELETE (a purge
/// authorises its own range for the length of its transaction): an administrator with the
/// `sqlite3` shell can still drop them, and the chain and signed checkpoints catch that.
enum AuditSchema {
    static func migrateToChain(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE audit_records (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                record TEXT NOT NULL,
                hash BLOB NOT NULL,
                time TEXT GENERATED ALWAYS AS (json_extract(record, '$.event.time')) VIRTUAL,
                type TEXT GENERATED ALWAYS AS (json_extract(record, '$.event.type')) VIRTUAL,
                user TEXT GENERATED ALWAYS AS (json_extract(record, '$.event.actor.user')) VIRTUAL,
                session TEXT GENERATED ALWAYS AS (coalesce(
                    json_extract(record, '$.event.session.id'), json_extract(record, '$.event.details.session_id'))) VIRTUAL,
                target TEXT GENERATED ALWAYS AS (json_extract(record, '$.event.target')) VIRTUAL
            );
            CREATE INDEX audit_records_by_time ON audit_records(time);
            CREATE INDEX audit_records_by_type ON audit_records(type);
            CREATE INDEX audit_records_by_session ON audit_records(session);
            CREATE TABLE audit_checkpoints (
                seq INTEGER PRIMARY KEY NOT NULL,
                hash BLOB NOT NULL,
                time_ms INTEGER NOT NULL,
                signature BLOB NOT NULL
            );
            CREATE TABLE audit_purge_authorization (
                from_seq INTEGER NOT NULL,
                to_seq INTEGER NOT NULL
            );
            CREATE TABLE audit_holds (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                kind TEXT NOT NULL,
                value TEXT NOT NULL,
                reason TEXT NOT NULL,
                created_at TEXT NOT NULL,
                created_by TEXT NOT NULL,
                removed_at TEXT,
                removed_by TEXT
            );
            CREATE TRIGGER audit_records_append_only BEFORE UPDATE ON audit_records
            BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
            CREATE TRIGGER audit_records_retained BEFORE DELETE ON audit_records
            WHEN NOT EXISTS (SELECT 1 FROM audit_purge_authorization WHERE OLD.seq BETWEEN from_seq AND to_seq)
            BEGIN SELECT RAISE(ABORT, 'audit records are removed only by retention, after their date'); END;
            CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE ON audit_checkpoints
            BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
            CREATE TRIGGER audit_checkpoints_kept BEFORE DELETE ON audit_checkpoints
            BEGIN SELECT RAISE(ABORT, 'audit checkpoints are never deleted'); END;
            CREATE TRIGGER audit_holds_kept BEFORE DELETE ON audit_holds
            BEGIN SELECT RAISE(ABORT, 'legal holds are removed with hold remove, never deleted'); END;
            """)
        // Chain what the foundation wrote (schema v1 events) in their original order.
        let hasher = SHA256Hasher()
        var previous = AuditChain.genesisHash
        let rows = try Row.fetchCursor(db, sql: "SELECT seq, event_json FROM audit_events ORDER BY seq")
        while let row = try rows.next() {
            let seq: Int64 = row["seq"]
            let event: Data = row["event_json"]
            let bytes = AuditRecord.envelope(event: Array(event), seq: seq)
            let hash = hasher.hash(previous, bytes)
            try db.execute(
                sql: "INSERT INTO audit_records (seq, record, hash) VALUES (?, ?, ?)",
                arguments: [seq, String(decoding: bytes, as: UTF8.self), Data(hash)]
            )
            previous = hash
        }
        try db.execute(sql: "DROP TABLE audit_events")
    }
}
