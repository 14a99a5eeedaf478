public import BastionCore
import BastionCrypto
public import GRDB
import GRDBSQLite
import Foundation

/// The audit log on SQLite: an append-only, hash-chained table of canonical records, sealed
/// by signed checkpoints.
///
/// Appends are group-committed: concurrent callers' records go into one durable transaction,
/// and each caller returns only after the commit that holds its record (fail closed: a
/// thrown error means "not recorded"). The chain state is read inside each transaction, so
/// the daemon and admin commands append to one chain from separate processes.
public final class SQLiteAuditLog: AuditLogStore, Sendable {
    public typealias Record = AuditStoredRecord
    public typealias Sealing = AuditSealing

    let database: any DatabaseWriter
    let sealing: Sealing
    let clock: any WallClock
    private let committer: GroupCommitter

    /// Group-commit figures so far: transactions, records, seconds spent writing them.
    public var commitStatistics: (batches: Int, records: Int, seconds: Double) {
        committer.statistics
    }

    public init(database: any DatabaseWriter, sealing: Sealing, clock: any WallClock = SystemWallClock()) {
        self.database = database
        self.sealing = sealing
        self.clock = clock
        self.committer = GroupCommitter()
    }

    public func append(_ event: AuditEvent) throws {
        try committer.commit(event.canonicalJSON()) { [self] batch in try write(batch) }
    }

    /// Seals the newest record with a checkpoint unless it already has one (the periodic
    /// checkpoint, and the last act of a stopping daemon). Returns the new checkpoint.
    @discardableResult
    public func checkpoint() throws -> AuditCheckpoint? {
        guard sealing.key != nil else { return nil }
        return try database.storeWrite { db in
            guard let head = try Self.head(db), head.seq > (try Self.lastCheckpointSeq(db) ?? 0) else { return nil }
            guard let checkpoint = try sign(seq: head.seq, hash: head.hash, db) else { return nil }
            try Self.insert(checkpoint, db)
            return checkpoint
        }
    }

    // MARK: - Writing

    private func write(_ events: [[UInt8]]) throws {
        do {
            try database.write { db in try appendChained(events, db) }
        } catch {
            throw StoreError(.unavailable, "audit append failed: \(error)")
        }
    }

    /// Appends `events` at the head of the chain inside the caller's transaction, with a
    /// checkpoint whenever `sealing.every` records have passed since the last one.
    ///
    /// Binds through SQLite's C interface: this loop is the audit log's hot path.
    func appendChained(_ events: [[UInt8]], _ db: Database) throws {
        let head = try Self.head(db)
        var previous = head?.hash ?? AuditChain.genesisHash
        // Never reuse a seq, even one whose row is gone: AUTOINCREMENT's high-water mark.
        let highWater = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT seq FROM sqlite_sequence WHERE name = 'audit_records'")
        ) ?? 0
        var seq = max(head?.seq ?? 0, highWater)
        var lastSealed = try Self.lastCheckpointSeq(db) ?? 0
        let hasher = SHA256Hasher()
        var hash = [UInt8](repeating: 0, count: SHA256.byteCount)
        let insert = try db.cachedStatement(sql: "INSERT INTO audit_records (seq, record, hash) VALUES (?, ?, ?)").sqliteStatement
        for event in events {
            seq += 1
            let bytes = AuditRecord.envelope(event: event, seq: seq)
            let code = bytes.withUnsafeBytes { record in
                previous.withUnsafeBytes { prior in hash.withUnsafeMutableBytes { hasher.hash(prior, record, into: $0) } }
                sqlite3_reset(insert)
                sqlite3_bind_int64(insert, 1, seq)
                sqlite3_bind_text(insert, 2, record.baseAddress?.assumingMemoryBound(to: CChar.self), Int32(record.count), Self.transient)
                sqlite3_bind_blob(insert, 3, hash, Int32(hash.count), Self.transient)
                return sqlite3_step(insert)
            }
            sqlite3_reset(insert)
            guard code == SQLITE_DONE else {
                throw StoreError(.unavailable, "audit append failed: \(String(cString: sqlite3_errmsg(db.sqliteConnection)))")
            }
            swap(&previous, &hash)
            if sealing.key != nil, seq - lastSealed >= Int64(sealing.every), let checkpoint = try sign(seq: seq, hash: previous, db) {
                try Self.insert(checkpoint, db)
                lastSealed = seq
            }
        }
    }

    /// SQLite copies bound values before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    static func head(_ db: Database) throws -> (seq: Int64, hash: [UInt8])? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1")) else { return nil }
        let hash: Data = row["hash"]
        return (row["seq"], Array(hash))
    }

    static func lastCheckpointSeq(_ db: Database) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(seq) FROM audit_checkpoints"))
    }

    static func insert(_ checkpoint: AuditCheckpoint, _ db: Database) throws {
        try db.execute(
            sql: "INSERT INTO audit_checkpoints (seq, hash, time_ms, signature, key_version) VALUES (?, ?, ?, ?, ?)",
            arguments: [checkpoint.seq, Data(checkpoint.hash), checkpoint.timeMilliseconds, Data(checkpoint.signature), checkpoint.keyVersion]
        )
    }
}
