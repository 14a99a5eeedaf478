public import BastionCore
public import BastionCrypto
public import GRDB
import Foundation

/// The audit log on SQLite: an append-only, hash-chained table of canonical records, sealed
/// by signed checkpoints.
///
/// Appends are group-committed: concurrent callers' records go into one durable transaction,
/// and each caller returns only after the commit that holds its record (fail closed: a
/// thrown error means "not recorded"). The chain state is read inside each transaction, so
/// the daemon and admin commands append to one chain from separate processes.
public final class SQLiteAuditLog: AuditEmitter, Sendable {
    /// One stored record, with its event decoded into the columns searches use.
    public struct Record: Sendable {
        public var seq: Int64
        public var type: String
        public var time: String
        public var user: String?
        public var session: String?
        public var target: String?
        /// The event's canonical JSON (what SIEM rules and auditors read).
        public var json: String
        /// The whole record as hashed: `{"event":…,"seq":N}`.
        public var recordBytes: [UInt8]
        public var hash: [UInt8]
        /// The hash this record chains from (genesis for the first).
        public var previousHash: [UInt8]
    }

    /// How checkpoints are made.
    public struct Sealing: Sendable {
        /// Signs checkpoints; nil only in tests of unsealed chains.
        public var key: Ed25519PrivateKey?
        /// A checkpoint every this many records (time-based ones come from ``checkpoint()``).
        public var every: Int

        public init(key: Ed25519PrivateKey?, every: Int = 1_000) {
            self.key = key
            self.every = every
        }
    }

    let database: any DatabaseWriter
    let sealing: Sealing
    let clock: any WallClock
    private let committer: GroupCommitter

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
        guard let key = sealing.key else { return nil }
        return try database.storeWrite { db in
            guard let head = try Self.head(db), head.seq > (try Self.lastCheckpointSeq(db) ?? 0) else { return nil }
            let checkpoint = try AuditCheckpoint.signed(seq: head.seq, hash: head.hash, time: clock.now(), key: key)
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
    func appendChained(_ events: [[UInt8]], _ db: Database) throws {
        let head = try Self.head(db)
        var previous = head?.hash ?? AuditChain.genesisHash
        // Never reuse a seq, even one whose row is gone: AUTOINCREMENT's high-water mark.
        let highWater = try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'audit_records'") ?? 0
        var seq = max(head?.seq ?? 0, highWater)
        var lastSealed = try Self.lastCheckpointSeq(db) ?? 0
        let hasher = SHA256Hasher()
        let statement = try db.cachedStatement(sql: "INSERT INTO audit_records (seq, record, hash) VALUES (?, ?, ?)")
        for event in events {
            seq += 1
            let bytes = AuditRecord.envelope(event: event, seq: seq)
            let hash = hasher.hash(previous, bytes)
            try statement.execute(arguments: [seq, String(decoding: bytes, as: UTF8.self), Data(hash)])
            previous = hash
            if let key = sealing.key, seq - lastSealed >= Int64(sealing.every) {
                try Self.insert(AuditCheckpoint.signed(seq: seq, hash: hash, time: clock.now(), key: key), db)
                lastSealed = seq
            }
        }
    }

    static func head(_ db: Database) throws -> (seq: Int64, hash: [UInt8])? {
        guard let row = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1") else { return nil }
        let hash: Data = row["hash"]
        return (row["seq"], Array(hash))
    }

    static func lastCheckpointSeq(_ db: Database) throws -> Int64? {
        try Int64.fetchOne(db, sql: "SELECT max(seq) FROM audit_checkpoints")
    }

    static func insert(_ checkpoint: AuditCheckpoint, _ db: Database) throws {
        try db.execute(
            sql: "INSERT INTO audit_checkpoints (seq, hash, time_ms, signature) VALUES (?, ?, ?, ?)",
            arguments: [checkpoint.seq, Data(checkpoint.hash), checkpoint.timeMilliseconds, Data(checkpoint.signature)]
        )
    }
}

/// Group commit: callers queue their item; whichever finds no write in progress writes the
/// whole queue in one transaction while the rest wait for the outcome of the batch that
/// holds their item. One fsync then serves many appends.
final class GroupCommitter: @unchecked Sendable {
    private final class Ticket {
        let item: [UInt8]
        var done = false
        var error: (any Error)?
        init(_ item: [UInt8]) { self.item = item }
    }

    // Guards `queue` and `writing`; NSCondition because waiters sleep until a batch ends.
    private let condition = NSCondition()
    private var queue: [Ticket] = []
    private var writing = false

    func commit(_ item: [UInt8], write: ([[UInt8]]) throws -> Void) throws {
        let ticket = Ticket(item)
        condition.lock()
        queue.append(ticket)
        while !ticket.done {
            if writing {
                condition.wait()
                continue
            }
            writing = true
            let batch = queue
            queue = []
            condition.unlock()
            var failure: (any Error)?
            do { try write(batch.map(\.item)) } catch { failure = error }
            condition.lock()
            for member in batch {
                member.done = true
                member.error = failure
            }
            writing = false
            condition.broadcast()
        }
        condition.unlock()
        if let error = ticket.error { throw error }
    }
}
