public import BastionCore
public import BastionCrypto
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
                previous.withUnsafeBytes { hasher.hash($0, record, into: UnsafeMutableRawBufferPointer(start: &hash, count: hash.count)) }
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
            if let key = sealing.key, seq - lastSealed >= Int64(sealing.every) {
                try Self.insert(AuditCheckpoint.signed(seq: seq, hash: previous, time: clock.now(), key: key), db)
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
            sql: "INSERT INTO audit_checkpoints (seq, hash, time_ms, signature) VALUES (?, ?, ?, ?)",
            arguments: [checkpoint.seq, Data(checkpoint.hash), checkpoint.timeMilliseconds, Data(checkpoint.signature)]
        )
    }
}

/// Group commit: callers queue their item; whichever finds no write in progress leads:
/// it writes the whole queue in one transaction, wakes exactly the members of that batch
/// with its outcome, and hands the lead to the first caller queued meanwhile. One fsync
/// then serves many appends, and no caller is woken for a batch it is not in.
///
/// Like PostgreSQL's `commit_delay`, a leader whose previous batch had company waits up to
/// ``gatherLimit`` for as many callers to queue again: woken writers take a moment to come
/// back, and without the wait each fsync would carry one or two records. A lone appender
/// never waits.
final class GroupCommitter: @unchecked Sendable {
    private final class Ticket {
        let item: [UInt8]
        let wake = DispatchSemaphore(value: 0)
        // Written by the leader before `wake` is signalled; read by the owner after.
        var leads = false
        var error: (any Error)?
        init(_ item: [UInt8]) { self.item = item }
    }

    private let lock = NSCondition()
    // Guarded by `lock`.
    private var queue: [Ticket] = []
    private var writing = false
    private var lastBatchSize = 1
    /// While a leader gathers: the queue length it waits for (0 when nobody gathers).
    private var gatherTarget = 0
    /// The longest a leader waits for company: about one fsync on a local SSD.
    static let gatherLimit: TimeInterval = 0.000_5
    private(set) var batches = 0
    private(set) var items = 0
    private(set) var writeSeconds = 0.0

    var statistics: (batches: Int, records: Int, seconds: Double) { lock.withLock { (batches, items, writeSeconds) } }

    func commit(_ item: [UInt8], write: ([[UInt8]]) throws -> Void) throws {
        let ticket = Ticket(item)
        let leadsNow = lock.withLock {
            queue.append(ticket)
            if gatherTarget > 0, queue.count >= gatherTarget { lock.signal() }
            if writing { return false }
            writing = true
            return true
        }
        if !leadsNow {
            ticket.wake.wait()
        }
        if leadsNow || ticket.leads {
            lead(write)
        }
        if let error = ticket.error { throw error }
    }

    /// Writes one batch (the queue, which holds the leader's own ticket) and passes the lead on.
    private func lead(_ write: ([[UInt8]]) throws -> Void) {
        let batch = lock.withLock {
            if lastBatchSize > 1, queue.count < lastBatchSize {
                gatherTarget = lastBatchSize
                let deadline = Date(timeIntervalSinceNow: Self.gatherLimit)
                while queue.count < gatherTarget, lock.wait(until: deadline) {}
                gatherTarget = 0
            }
            let batch = queue
            queue = []
            lastBatchSize = batch.count
            return batch
        }
        var failure: (any Error)?
        let start = DispatchTime.now().uptimeNanoseconds
        do { try write(batch.map(\.item)) } catch { failure = error }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let next: Ticket? = lock.withLock {
            batches += 1
            items += batch.count
            writeSeconds += elapsed
            guard let first = queue.first else {
                writing = false
                return nil
            }
            return first
        }
        for member in batch {
            member.error = failure
            member.leads = false
        }
        // Wake the batch (the leader's own semaphore is never waited on again: harmless).
        for member in batch { member.wake.signal() }
        if let next {
            next.leads = true
            next.wake.signal()
        }
    }
}
