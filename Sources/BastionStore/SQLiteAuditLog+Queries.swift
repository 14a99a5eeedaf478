public import BastionCore
import Foundation
import GRDB

extension SQLiteAuditLog {
    /// Streams the records matching `query`, oldest first, in one read transaction (a
    /// consistent snapshot even while the daemon appends).
    public func forEach(_ query: AuditQuery, _ body: (Record) throws -> Void) throws {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        func add(_ condition: String, _ value: (any DatabaseValueConvertible)?) {
            guard let value else { return }
            conditions.append(condition)
            arguments += [value]
        }
        add("user = ?", query.user)
        if query.typeIsPattern {
            add("type LIKE ? ESCAPE '\\'", query.type.map(AuditQuery.likePattern))
        } else {
            add("type = ?", query.type)
        }
        add("json_extract(record, '$.event.details.path') LIKE ? ESCAPE '\\'", query.path.map(AuditQuery.likePattern))
        add("target = ?", query.target)
        add("session = ?", query.session)
        add("time >= ?", query.since.map(AuditEvent.timestamp))
        add("time < ?", query.until.map(AuditEvent.timestamp))
        add("seq >= ?", query.fromSeq)
        add("seq <= ?", query.toSeq)
        // The previous hash: the record before, or the checkpoint that closed a purged range
        // before it, or (after an unexplained gap) the nearest older record: a verifier then
        // reports the gap rather than being handed a hash that hides it.
        var sql = """
            SELECT seq, record, hash, time, type, user, session, target, coalesce(
                (SELECT p.hash FROM audit_records AS p WHERE p.seq = r.seq - 1),
                (SELECT c.hash FROM audit_checkpoints AS c WHERE c.seq = r.seq - 1),
                (SELECT p.hash FROM audit_records AS p WHERE p.seq < r.seq ORDER BY p.seq DESC LIMIT 1)) AS previous
            FROM audit_records AS r
            """
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY seq"
        if let limit = query.limit {
            sql += " LIMIT ?"
            arguments += [max(limit, 0)]
        }
        try database.storeRead { db in
            // One cached statement per combination of conditions (the limit is bound, not
            // written in): the daemon's searches repeat, and parsing this one cost more than
            // running it (`perf`, the session indexer's per-session lookups).
            let rows = try Row.fetchCursor(db.cachedStatement(sql: sql), arguments: arguments)
            while let row = try rows.next() {
                let text: String = row["record"]
                let bytes = Array(text.utf8)
                let hash: Data = row["hash"]
                let previous: Data? = row["previous"]
                let event = AuditRecord.eventBytes(in: bytes).map { String(decoding: $0, as: UTF8.self) } ?? text
                try body(Record(
                    seq: row["seq"], type: row["type"] ?? "?", time: row["time"] ?? "?", user: row["user"], session: row["session"],
                    target: row["target"], json: event, recordBytes: bytes, hash: Array(hash),
                    previousHash: previous.map { Array($0) } ?? AuditChain.genesisHash
                ))
            }
        }
    }

    /// The newest record of `type`.
    public func latest(type: String) throws -> Record? {
        guard let seq = try database.storeRead({ db in
            try Int64.fetchOne(db, sql: "SELECT max(seq) FROM audit_records WHERE type = ?", arguments: [type])
        }) else { return nil }
        return try search(AuditQuery(fromSeq: seq, toSeq: seq)).first
    }

    /// Checkpoints with `seq` in `range` (all when nil), oldest first.
    public func checkpoints(in range: ClosedRange<Int64>?) throws -> [AuditCheckpoint] {
        try database.storeRead { db in try Self.checkpoints(db, in: range) }
    }

    static func checkpoints(_ db: Database, in range: ClosedRange<Int64>? = nil) throws -> [AuditCheckpoint] {
        let bounds = range ?? Int64.min...Int64.max
        return try Row.fetchAll(
            db, sql: "SELECT seq, hash, time_ms, signature, key_version FROM audit_checkpoints WHERE seq BETWEEN ? AND ? ORDER BY seq",
            arguments: [bounds.lowerBound, bounds.upperBound]
        ).map { row in
            let hash: Data = row["hash"]
            let signature: Data = row["signature"]
            return AuditCheckpoint(
                seq: row["seq"], hash: Array(hash), timeMilliseconds: row["time_ms"], signature: Array(signature), keyVersion: row["key_version"]
            )
        }
    }

    /// The stored hash of the newest record before `seq`, and its seq (the anchor of an
    /// export or a partial verification starting at `seq`).
    public func anchor(before seq: Int64) throws -> (seq: Int64, hash: [UInt8])? {
        try database.storeRead { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT seq, hash FROM audit_records WHERE seq < ? ORDER BY seq DESC LIMIT 1", arguments: [seq]
            ) else { return nil }
            let hash: Data = row["hash"]
            return (row["seq"], Array(hash))
        }
    }

    /// The lowest and highest stored seq.
    public func bounds() throws -> ClosedRange<Int64>? {
        try database.storeRead { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT min(seq) AS low, max(seq) AS high FROM audit_records"),
                let low: Int64 = row["low"], let high: Int64 = row["high"]
            else { return nil }
            return low...high
        }
    }
}
