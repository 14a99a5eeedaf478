public import BastionCore
public import Foundation

/// The delivery outbox on PostgreSQL: the shared audit chain read through one cursor per
/// sink, as on SQLite, plus a lease per sink so that one node at a time delivers it.
///
/// A lease is a row (`outbox_leases`: sink, node, expiry by the database's clock, so nodes'
/// clocks need not agree). The holder renews it at every delivery step; a node killed
/// mid-delivery stops renewing, and after ``leaseDuration`` another node takes the sink
/// over from the last committed cursor, re-sending at most the batch that was in flight
/// (receivers de-duplicate on the event id). Cursor moves are fenced: a node that lost its
/// lease (paused longer than the lease) cannot move the cursor under the new holder.
public final class PostgresOutbox: OutboxStore {
    private let database: PostgresDatabase
    /// This node's name (`cluster.node`).
    public let node: String
    public let leaseDuration: TimeInterval

    public init(database: PostgresDatabase, node: String, leaseDuration: TimeInterval = 15) {
        self.database = database
        self.node = node
        self.leaseDuration = leaseDuration
    }

    public func holdLease(_ sink: String, now: Date) throws -> Bool {
        try database.run { connection in
            try connection.query(
                """
                INSERT INTO outbox_leases AS l (sink, node, expires_at)
                VALUES ($1, $2, extract(epoch FROM clock_timestamp()) + $3)
                ON CONFLICT (sink) DO UPDATE SET node = EXCLUDED.node, expires_at = EXCLUDED.expires_at
                WHERE l.node = EXCLUDED.node OR l.expires_at < extract(epoch FROM clock_timestamp())
                RETURNING node
                """,
                [sink, node, leaseDuration]
            ).first != nil
        }
    }

    /// Gives up this node's leases (a node stopping cleanly hands its sinks over at once).
    public func releaseLeases() throws {
        try database.run { connection in try connection.query("DELETE FROM outbox_leases WHERE node = $1", [node]) }
    }

    public func cursor(of sink: String, now: Date) throws -> Int64 {
        try database.transaction { connection in
            if let seq = try connection.query("SELECT delivered_seq FROM siem_cursors WHERE sink = $1", [sink]).first {
                return try seq.int64("delivered_seq")
            }
            // A new sink starts at the head: it receives what happens from now on.
            let head = try connection.query("SELECT seq FROM audit_chain_head").first?.int64("seq") ?? 0
            let sealed = try connection.query("SELECT coalesce(max(seq), 0) AS seq FROM audit_checkpoints").first?.int64("seq") ?? 0
            try connection.query(
                """
                INSERT INTO siem_cursors (sink, delivered_seq, delivered_checkpoint, delivered_at) VALUES ($1, $2, $3, $4)
                ON CONFLICT (sink) DO NOTHING
                """,
                [sink, head, sealed, AuditEvent.timestamp(now)]
            )
            return try connection.query("SELECT delivered_seq FROM siem_cursors WHERE sink = $1", [sink]).first?.int64("delivered_seq") ?? head
        }
    }

    public func pending(after seq: Int64, limit: Int) throws -> [(seq: Int64, event: [UInt8])] {
        try database.run { connection in
            try connection.query("SELECT seq, record FROM audit_records WHERE seq > $1 ORDER BY seq LIMIT $2", [seq, limit]).all.map { row in
                let bytes = Array(try row.text("record").utf8)
                return (try row.int64("seq"), AuditRecord.eventBytes(in: bytes).map(Array.init) ?? bytes)
            }
        }
    }

    public func pendingCheckpoints(of sink: String) throws -> [AuditCheckpoint] {
        try database.run { connection in
            guard let row = try connection.query("SELECT delivered_seq, delivered_checkpoint FROM siem_cursors WHERE sink = $1", [sink]).first
            else { return [] }
            let delivered = try row.int64("delivered_seq")
            let sent = try row.int64("delivered_checkpoint")
            return try PostgresAuditLog.checkpoints(connection, in: (sent + 1)...max(delivered, sent + 1)).filter { $0.seq <= delivered }
        }
    }

    public func advanceCheckpoints(_ sink: String, to seq: Int64) throws {
        try database.run { connection in
            try connection.query(
                "UPDATE siem_cursors SET delivered_checkpoint = greatest(delivered_checkpoint, $1) WHERE sink = $2 AND \(Self.leaseHeld(byNodeIn: 3))",
                [seq, sink, node]
            )
        }
    }

    public func advance(_ sink: String, to seq: Int64, rejected: [(seq: Int64, reason: String)], now: Date) throws {
        try database.transaction { connection in
            let moved = try connection.query(
                """
                UPDATE siem_cursors SET delivered_seq = greatest(delivered_seq, $1), delivered_at = $2, attempts = 0
                WHERE sink = $3 AND \(Self.leaseHeld(byNodeIn: 4))
                """,
                [seq, AuditEvent.timestamp(now), sink, node]
            ).changedRows
            // Lost the lease meanwhile: the new holder delivers (and dead-letters) from the cursor.
            guard moved > 0 else { return }
            for letter in rejected {
                try connection.query(
                    "INSERT INTO siem_dead_letters (sink, seq, reason, time) VALUES ($1, $2, $3, $4)",
                    [sink, letter.seq, letter.reason, AuditEvent.timestamp(now)]
                )
            }
        }
    }

    /// A condition on a `siem_cursors` row: true while the node in parameter `index` holds its sink's lease.
    private static func leaseHeld(byNodeIn index: Int) -> String {
        "EXISTS (SELECT 1 FROM outbox_leases WHERE outbox_leases.sink = siem_cursors.sink AND outbox_leases.node = $\(index))"
    }

    public func recordFailure(_ sink: String, reason: String, now: Date) throws {
        try database.run { connection in
            try connection.query(
                "UPDATE siem_cursors SET attempts = attempts + 1, last_error = $1, last_error_at = $2 WHERE sink = $3",
                [reason, AuditEvent.timestamp(now), sink]
            )
        }
    }

    public func state(of sink: String) throws -> OutboxSinkState? {
        try database.run { connection in
            guard let row = try connection.query("SELECT * FROM siem_cursors WHERE sink = $1", [sink]).first else { return nil }
            let delivered = try row.int64("delivered_seq")
            let depth = try connection.query("SELECT count(*) AS n FROM audit_records WHERE seq > $1", [delivered]).first?.int64("n") ?? 0
            let oldest = try connection.query("SELECT time FROM audit_records WHERE seq > $1 ORDER BY seq LIMIT 1", [delivered]).first?
                .optionalText("time")
            let letters = try connection.query("SELECT count(*) AS n FROM siem_dead_letters WHERE sink = $1", [sink]).first?.int("n") ?? 0
            return OutboxSinkState(
                sink: sink, deliveredSeq: delivered, deliveredAt: try row.optionalText("delivered_at").flatMap(AuditEvent.parseTimestamp),
                depth: depth, oldestPending: oldest.flatMap(AuditEvent.parseTimestamp), attempts: try row.int("attempts"),
                lastError: try row.optionalText("last_error"), lastErrorAt: try row.optionalText("last_error_at").flatMap(AuditEvent.parseTimestamp),
                deadLetters: letters
            )
        }
    }

    public func deadLetters(of sink: String?) throws -> [OutboxDeadLetter] {
        try database.run { connection in
            try connection.query(
                "SELECT sink, seq, reason, time FROM siem_dead_letters WHERE $1::text IS NULL OR sink = $1 ORDER BY id", [sink]
            ).all.map { row in
                OutboxDeadLetter(
                    sink: try row.text("sink"), seq: try row.int64("seq"), reason: try row.text("reason"),
                    time: AuditEvent.parseTimestamp(try row.text("time")) ?? .distantPast
                )
            }
        }
    }

    public func openStream(_ sink: String, sessionID: String, path: String) throws {
        try database.run { connection in
            try connection.query(
                "INSERT INTO siem_streams (sink, session_id, path) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING", [sink, sessionID, path]
            )
        }
    }

    public func streams(of sink: String) throws -> [OutboxStream] {
        try database.run { connection in
            try connection.query(
                "SELECT session_id, path, delivered_bytes, next_chunk FROM siem_streams WHERE sink = $1 ORDER BY position", [sink]
            ).all.map { row in
                OutboxStream(
                    sessionID: try row.text("session_id"), path: try row.text("path"), deliveredBytes: try row.int64("delivered_bytes"),
                    nextChunk: try row.int64("next_chunk")
                )
            }
        }
    }

    public func advanceStream(_ sink: String, sessionID: String, deliveredBytes: Int64, nextChunk: Int64) throws {
        try database.run { connection in
            try connection.query(
                "UPDATE siem_streams SET delivered_bytes = $1, next_chunk = $2 WHERE sink = $3 AND session_id = $4",
                [deliveredBytes, nextChunk, sink, sessionID]
            )
        }
    }

    public func closeStream(_ sink: String, sessionID: String) throws {
        try database.run { connection in
            try connection.query("DELETE FROM siem_streams WHERE sink = $1 AND session_id = $2", [sink, sessionID])
        }
    }
}
