public import BastionCore
public import Foundation
public import GRDB

/// The durable SIEM outbox: the audit chain itself, read through one cursor per sink.
///
/// A record is queued for every sink by the very transaction that appends it (the cursor
/// lags behind it), so the guarantee of a separate outbox table holds without writing each
/// event twice: durable appends keep their throughput, and delivery resumes after a crash
/// from the last cursor committed after a successful send (at least once, in order).
/// A sink seen for the first time starts at the head: it receives what happens from then on.
public final class SQLiteSIEMOutbox: OutboxStore {
    public typealias SinkState = OutboxSinkState
    public typealias Stream = OutboxStream
    public typealias DeadLetter = OutboxDeadLetter

    public func openStream(_ sink: String, sessionID: String, path: String) throws {
        try database.storeWrite { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO siem_streams (sink, session_id, path) VALUES (?, ?, ?)", arguments: [sink, sessionID, path]
            )
        }
    }

    public func streams(of sink: String) throws -> [Stream] {
        try database.storeRead { db in
            try Row.fetchAll(
                db, sql: "SELECT session_id, path, delivered_bytes, next_chunk FROM siem_streams WHERE sink = ? ORDER BY rowid", arguments: [sink]
            ).map { Stream(sessionID: $0["session_id"], path: $0["path"], deliveredBytes: $0["delivered_bytes"], nextChunk: $0["next_chunk"]) }
        }
    }

    public func advanceStream(_ sink: String, sessionID: String, deliveredBytes: Int64, nextChunk: Int64) throws {
        try database.storeWrite { db in
            try db.execute(
                sql: "UPDATE siem_streams SET delivered_bytes = ?, next_chunk = ? WHERE sink = ? AND session_id = ?",
                arguments: [deliveredBytes, nextChunk, sink, sessionID]
            )
        }
    }

    public func closeStream(_ sink: String, sessionID: String) throws {
        try database.storeWrite { db in
            try db.execute(sql: "DELETE FROM siem_streams WHERE sink = ? AND session_id = ?", arguments: [sink, sessionID])
        }
    }

    private let database: any DatabaseWriter

    public init(database: any DatabaseWriter) {
        self.database = database
    }

    /// One node delivers: the lease is always this process's (the admin CLI never delivers).
    public func holdLease(_ sink: String, now: Date) throws -> Bool { true }

    /// The last seq delivered to `sink`; a new sink is registered at the head.
    public func cursor(of sink: String, now: Date) throws -> Int64 {
        try database.storeWrite { db in
            if let seq = try Int64.fetchOne(db, sql: "SELECT delivered_seq FROM siem_cursors WHERE sink = ?", arguments: [sink]) {
                return seq
            }
            let head = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM audit_records") ?? 0
            let sealed = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM audit_checkpoints") ?? 0
            try db.execute(
                sql: "INSERT INTO siem_cursors (sink, delivered_seq, delivered_checkpoint, delivered_at) VALUES (?, ?, ?, ?)",
                arguments: [sink, head, sealed, AuditEvent.timestamp(now)]
            )
            return head
        }
    }

    /// Up to `limit` records after `seq`, oldest first, as (seq, event canonical JSON).
    public func pending(after seq: Int64, limit: Int) throws -> [(seq: Int64, event: [UInt8])] {
        try database.storeRead { db in
            try Row.fetchAll(
                db, sql: "SELECT seq, record FROM audit_records WHERE seq > ? ORDER BY seq LIMIT ?", arguments: [seq, limit]
            ).map { row in
                let text: String = row["record"]
                let bytes = Array(text.utf8)
                return (row["seq"], AuditRecord.eventBytes(in: bytes).map(Array.init) ?? bytes)
            }
        }
    }

    /// Checkpoints not yet sent to `sink` that seal records it already has: a copy of each
    /// signed checkpoint lives outside the host once the SIEM has it.
    public func pendingCheckpoints(of sink: String) throws -> [AuditCheckpoint] {
        try database.storeRead { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT delivered_seq, delivered_checkpoint FROM siem_cursors WHERE sink = ?", arguments: [sink])
            else { return [] }
            let delivered: Int64 = row["delivered_seq"]
            let sent: Int64 = row["delivered_checkpoint"]
            return try SQLiteAuditLog.checkpoints(db, in: (sent + 1)...max(delivered, sent + 1)).filter { $0.seq <= delivered }
        }
    }

    /// Records that checkpoints up to `seq` reached `sink`.
    public func advanceCheckpoints(_ sink: String, to seq: Int64) throws {
        try database.storeWrite { db in
            try db.execute(
                sql: "UPDATE siem_cursors SET delivered_checkpoint = max(delivered_checkpoint, ?) WHERE sink = ?", arguments: [seq, sink]
            )
        }
    }

    /// Moves `sink`'s cursor to `seq` after a successful delivery, dead-lettering
    /// `rejected` records (with the receiver's reason) in the same transaction.
    public func advance(_ sink: String, to seq: Int64, rejected: [(seq: Int64, reason: String)], now: Date) throws {
        try database.storeWrite { db in
            for letter in rejected {
                try db.execute(
                    sql: "INSERT INTO siem_dead_letters (sink, seq, reason, time) VALUES (?, ?, ?, ?)",
                    arguments: [sink, letter.seq, letter.reason, AuditEvent.timestamp(now)]
                )
            }
            try db.execute(
                sql: "UPDATE siem_cursors SET delivered_seq = max(delivered_seq, ?), delivered_at = ?, attempts = 0 WHERE sink = ?",
                arguments: [seq, AuditEvent.timestamp(now), sink]
            )
        }
    }

    /// Records a failed attempt (kept for `siem status`).
    public func recordFailure(_ sink: String, reason: String, now: Date) throws {
        try database.storeWrite { db in
            try db.execute(
                sql: "UPDATE siem_cursors SET attempts = attempts + 1, last_error = ?, last_error_at = ? WHERE sink = ?",
                arguments: [reason, AuditEvent.timestamp(now), sink]
            )
        }
    }

    public func state(of sink: String) throws -> SinkState? {
        try database.storeRead { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM siem_cursors WHERE sink = ?", arguments: [sink]) else { return nil }
            let delivered: Int64 = row["delivered_seq"]
            let depth = try Int64.fetchOne(db, sql: "SELECT count(*) FROM audit_records WHERE seq > ?", arguments: [delivered]) ?? 0
            let oldest = try String.fetchOne(
                db, sql: "SELECT time FROM audit_records WHERE seq > ? ORDER BY seq LIMIT 1", arguments: [delivered]
            )
            let letters = try Int.fetchOne(db, sql: "SELECT count(*) FROM siem_dead_letters WHERE sink = ?", arguments: [sink]) ?? 0
            return SinkState(
                sink: sink, deliveredSeq: delivered, deliveredAt: (row["delivered_at"] as String?).flatMap(AuditEvent.parseTimestamp),
                depth: depth, oldestPending: oldest.flatMap(AuditEvent.parseTimestamp), attempts: row["attempts"],
                lastError: row["last_error"], lastErrorAt: (row["last_error_at"] as String?).flatMap(AuditEvent.parseTimestamp),
                deadLetters: letters
            )
        }
    }

    public func deadLetters(of sink: String?) throws -> [DeadLetter] {
        try database.storeRead { db in
            try Row.fetchAll(
                db, sql: "SELECT sink, seq, reason, time FROM siem_dead_letters WHERE ? IS NULL OR sink = ? ORDER BY id",
                arguments: [sink, sink]
            ).map { row in
                DeadLetter(sink: row["sink"], seq: row["seq"], reason: row["reason"], time: AuditEvent.parseTimestamp(row["time"]) ?? .distantPast)
            }
        }
    }
}
