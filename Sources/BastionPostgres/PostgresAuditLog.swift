public import BastionCore
public import BastionCrypto
public import Foundation

/// The audit log on PostgreSQL: one hash chain for every node.
///
/// Appends from all nodes are serialized by a row lock on the chain head
/// (`audit_chain_head`, one row: the newest seq and hash): each append transaction takes it
/// with `SELECT … FOR UPDATE`, chains its records after the head it read, moves the head
/// and commits. A second node's append waits for the first's commit and then reads the
/// moved head, so both nodes' records form one chain and `audit verify` passes. The head
/// also keeps the high-water mark: a seq is never reused, even after a purge.
///
/// Within a node, appends are group-committed as on SQLite (one transaction and one WAL
/// flush for many callers). Triggers refuse UPDATE and DELETE except a retention purge of a
/// range it authorised in the same transaction.
public final class PostgresAuditLog: AuditLogStore, Sendable {
    let database: PostgresDatabase
    let sealing: AuditSealing
    let clock: any WallClock
    private let committer = GroupCommitter()

    public init(database: PostgresDatabase, sealing: AuditSealing, clock: any WallClock = SystemWallClock()) {
        self.database = database
        self.sealing = sealing
        self.clock = clock
    }

    /// Group-commit figures so far: transactions, records, seconds spent writing them.
    public var commitStatistics: (batches: Int, records: Int, seconds: Double) { committer.statistics }

    public func append(_ event: AuditEvent) throws {
        try committer.commit(event.canonicalJSON()) { [self] batch in
            do {
                try database.transaction { connection in try appendChained(batch, connection) }
            } catch let error as StoreError {
                throw StoreError(.unavailable, "audit append failed: \(error.detail)")
            }
        }
    }

    @discardableResult
    public func checkpoint() throws -> AuditCheckpoint? {
        guard sealing.key != nil else { return nil }
        return try database.transaction { connection in
            let head = try Self.lockHead(connection)
            guard head.seq > 0, head.seq > (try Self.lastCheckpointSeq(connection) ?? 0),
                let checkpoint = try sign(seq: head.seq, hash: head.hash, connection)
            else { return nil }
            try Self.insert([checkpoint], connection)
            return checkpoint
        }
    }

    // MARK: - Writing

    /// Rows per INSERT statement (three parameters each; PostgreSQL allows 65535).
    private static let rowsPerStatement = 500

    /// Appends `events` after the chain head inside the caller's transaction, with a
    /// checkpoint whenever `sealing.every` records have passed since the last one.
    func appendChained(_ events: [[UInt8]], _ connection: PostgresConnection) throws {
        // One round trip for the head, its lock and the last checkpoint; one for the rows and
        // the head's move (a data-modifying CTE): each statement is a round trip to the server.
        guard let head = try connection.query(
            "SELECT seq, hash, (SELECT max(seq) FROM audit_checkpoints) AS sealed FROM audit_chain_head FOR UPDATE"
        ).first else {
            throw StoreError(.corrupt, "the audit chain head row is missing")
        }
        var previous = try head.bytes("hash")
        var seq = try head.int64("seq")
        var lastSealed = try head.optionalInt64("sealed") ?? 0
        let hasher = SHA256Hasher()
        var rows: [(seq: Int64, record: String, hash: [UInt8])] = []
        var checkpoints: [AuditCheckpoint] = []
        rows.reserveCapacity(events.count)
        for event in events {
            seq += 1
            let bytes = AuditRecord.envelope(event: event, seq: seq)
            previous = hasher.hash(previous, bytes)
            rows.append((seq, String(decoding: bytes, as: UTF8.self), previous))
            if sealing.key != nil, seq - lastSealed >= Int64(sealing.every), let checkpoint = try sign(seq: seq, hash: previous, connection) {
                checkpoints.append(checkpoint)
                lastSealed = seq
            }
        }
        for start in stride(from: 0, to: rows.count, by: Self.rowsPerStatement) {
            let chunk = rows[start..<min(start + Self.rowsPerStatement, rows.count)]
            var values: [String] = []
            var parameters: [any PostgresBindable] = []
            for row in chunk {
                let base = parameters.count
                values.append("($\(base + 1)::bigint, $\(base + 2), $\(base + 3)::bytea)")
                parameters += [row.seq, row.record, PostgresBytes(row.hash)] as [any PostgresBindable]
            }
            let isLast = start + Self.rowsPerStatement >= rows.count
            guard isLast, let last = chunk.last else {
                try connection.query("INSERT INTO audit_records (seq, record, hash) VALUES " + values.joined(separator: ", "), parameters)
                continue
            }
            parameters += [last.seq, PostgresBytes(last.hash)] as [any PostgresBindable]
            let count = parameters.count
            try connection.query(
                "WITH appended AS (INSERT INTO audit_records (seq, record, hash) VALUES " + values.joined(separator: ", ")
                    + " RETURNING seq) UPDATE audit_chain_head SET seq = $\(count - 1), hash = $\(count)",
                parameters
            )
        }
        try Self.insert(checkpoints, connection)
    }

    /// The chain head, locked until the transaction ends: appends from every node queue here.
    static func lockHead(_ connection: PostgresConnection) throws -> (seq: Int64, hash: [UInt8]) {
        guard let row = try connection.query("SELECT seq, hash FROM audit_chain_head FOR UPDATE").first else {
            throw StoreError(.corrupt, "the audit chain head row is missing")
        }
        return (try row.int64("seq"), try row.bytes("hash"))
    }

    static func lastCheckpointSeq(_ connection: PostgresConnection) throws -> Int64? {
        try connection.query("SELECT max(seq) AS seq FROM audit_checkpoints").first?.optionalInt64("seq")
    }

    static func insert(_ checkpoints: [AuditCheckpoint], _ connection: PostgresConnection) throws {
        for checkpoint in checkpoints {
            try connection.query(
                "INSERT INTO audit_checkpoints (seq, hash, time_ms, signature, key_version) VALUES ($1, $2, $3, $4, $5)",
                [checkpoint.seq, PostgresBytes(checkpoint.hash), checkpoint.timeMilliseconds, PostgresBytes(checkpoint.signature), checkpoint.keyVersion]
            )
        }
    }

    // MARK: - Reading

    /// Records read per round trip while streaming.
    private static let pageSize = 5_000

    public func verify(publicKey: Ed25519PublicKey, from: Int64?, to: Int64?, purgeableBefore: Date) throws -> AuditVerificationReport {
        try snapshot { connection in
            let upper = to ?? Int64.max
            var anchor = AuditChainVerifier.Anchor.genesis
            var start: Int64 = 1
            if let from, from > 1,
                let row = try connection.query("SELECT seq, hash FROM audit_records WHERE seq < $1 ORDER BY seq DESC LIMIT 1", [from]).first
            {
                let seq = try row.int64("seq")
                anchor = .after(seq: seq, hash: try row.bytes("hash"))
                start = seq + 1
            }
            var verifier = AuditChainVerifier(
                anchor: anchor, checkpoints: try Self.checkpoints(connection, in: start...upper),
                keys: AuditKeyTrust(anchor: publicKey, history: try Self.keyHistory(connection)),
                purgeableBefore: purgeableBefore
            )
            var next = start
            while next <= upper {
                let page = try connection.query(
                    "SELECT seq, record, hash FROM audit_records WHERE seq >= $1 AND seq <= $2 ORDER BY seq LIMIT $3", [next, upper, Self.pageSize]
                ).all
                for row in page {
                    let seq = try row.int64("seq")
                    verifier.check(seq: seq, bytes: Array(try row.text("record").utf8), storedHash: try row.bytes("hash"))
                    next = seq + 1
                }
                if page.count < Self.pageSize { break }
            }
            return verifier.finish(upTo: to)
        }
    }

    public func forEach(_ query: AuditQuery, _ body: (AuditStoredRecord) throws -> Void) throws {
        var conditions: [String] = []
        var parameters: [any PostgresBindable] = []
        func add(_ column: String, _ comparison: String, _ value: (any PostgresBindable)?) {
            guard let value else { return }
            parameters.append(value)
            conditions.append("\(column) \(comparison) $\(parameters.count)")
        }
        add("user_name", "=", query.user)
        if query.typeIsPattern {
            add("type", "LIKE", query.type.map(AuditQuery.likePattern))
        } else {
            add("type", "=", query.type)
        }
        add("(record::jsonb #>> '{event,details,path}')", "LIKE", query.path.map(AuditQuery.likePattern))
        add("target", "=", query.target)
        add("session", "=", query.session)
        add("time", ">=", query.since.map(AuditEvent.timestamp))
        add("time", "<", query.until.map(AuditEvent.timestamp))
        add("seq", ">=", query.fromSeq)
        add("seq", "<=", query.toSeq)
        // The previous hash, as on SQLite: the record before, or the checkpoint that closed
        // a purged range before it, or (after an unexplained gap) the nearest older record.
        let select = """
            SELECT seq, record, hash, time, type, user_name, session, target, coalesce(
                (SELECT p.hash FROM audit_records AS p WHERE p.seq = r.seq - 1),
                (SELECT c.hash FROM audit_checkpoints AS c WHERE c.seq = r.seq - 1),
                (SELECT p.hash FROM audit_records AS p WHERE p.seq < r.seq ORDER BY p.seq DESC LIMIT 1)) AS previous
            FROM audit_records AS r
            """
        try snapshot { connection in
            var remaining = query.limit.map { max($0, 0) } ?? Int.max
            var after = Int64.min
            while remaining > 0 {
                var pageConditions = conditions
                var pageParameters = parameters
                pageParameters.append(after)
                pageConditions.append("seq > $\(pageParameters.count)")
                let pageLimit = min(remaining, Self.pageSize)
                let rows = try connection.query(
                    select + " WHERE " + pageConditions.joined(separator: " AND ") + " ORDER BY seq LIMIT \(pageLimit)", pageParameters
                ).all
                for row in rows {
                    let text = try row.text("record")
                    let bytes = Array(text.utf8)
                    let event = AuditRecord.eventBytes(in: bytes).map { String(decoding: $0, as: UTF8.self) } ?? text
                    let seq = try row.int64("seq")
                    try body(AuditStoredRecord(
                        seq: seq, type: try row.optionalText("type") ?? "?", time: try row.optionalText("time") ?? "?",
                        user: try row.optionalText("user_name"), session: try row.optionalText("session"), target: try row.optionalText("target"),
                        json: event, recordBytes: bytes, hash: try row.bytes("hash"),
                        previousHash: try row.optionalText("previous") == nil ? AuditChain.genesisHash : try row.bytes("previous")
                    ))
                    after = seq
                }
                remaining -= rows.count
                if rows.count < pageLimit { break }
            }
        }
    }

    public func latest(type: String) throws -> AuditStoredRecord? {
        guard let seq = try database.run({ connection in
            try connection.query("SELECT max(seq) AS seq FROM audit_records WHERE type = $1", [type]).first?.optionalInt64("seq")
        }) else { return nil }
        return try search(AuditQuery(fromSeq: seq, toSeq: seq)).first
    }

    public func checkpoints(in range: ClosedRange<Int64>?) throws -> [AuditCheckpoint] {
        try database.run { connection in try Self.checkpoints(connection, in: range) }
    }

    static func checkpoints(_ connection: PostgresConnection, in range: ClosedRange<Int64>? = nil) throws -> [AuditCheckpoint] {
        let bounds = range ?? Int64.min...Int64.max
        return try connection.query(
            "SELECT seq, hash, time_ms, signature, key_version FROM audit_checkpoints WHERE seq BETWEEN $1 AND $2 ORDER BY seq",
            [bounds.lowerBound, bounds.upperBound]
        ).all.map { row in
            AuditCheckpoint(
                seq: try row.int64("seq"), hash: try row.bytes("hash"), timeMilliseconds: try row.int64("time_ms"),
                signature: try row.bytes("signature"), keyVersion: try row.int("key_version")
            )
        }
    }

    public func anchor(before seq: Int64) throws -> (seq: Int64, hash: [UInt8])? {
        try database.run { connection in
            guard let row = try connection.query("SELECT seq, hash FROM audit_records WHERE seq < $1 ORDER BY seq DESC LIMIT 1", [seq]).first
            else { return nil }
            return (try row.int64("seq"), try row.bytes("hash"))
        }
    }

    public func bounds() throws -> ClosedRange<Int64>? {
        try database.run { connection in
            guard let row = try connection.query("SELECT min(seq) AS low, max(seq) AS high FROM audit_records").first,
                let low = try row.optionalInt64("low"), let high = try row.optionalInt64("high")
            else { return nil }
            return low...high
        }
    }

    /// Runs `body` in one REPEATABLE READ, read-only transaction: every page it reads comes
    /// from the same snapshot, even while other nodes append.
    func snapshot<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try database.transaction { connection in
            try connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return try body(connection)
        }
    }

    // MARK: - Retention and legal holds

    public func purge(before cutoff: Date, record: (AuditPurgeOutcome) -> AuditEvent) throws -> AuditPurgeOutcome {
        try database.transaction { connection in
            // Taken first: no other node appends (and no second purge runs) until this commits.
            _ = try Self.lockHead(connection)
            var outcome = AuditPurgeOutcome()
            let holds = try Self.holds(connection).filter(\.isActive)
            var opening: Int64 = 1
            for checkpoint in try Self.checkpoints(connection) {
                defer { opening = checkpoint.seq + 1 }
                guard checkpoint.time < cutoff else { break }
                let range = opening...checkpoint.seq
                let count = try connection.query(
                    "SELECT count(*) AS n FROM audit_records WHERE seq BETWEEN $1 AND $2", [range.lowerBound, range.upperBound]
                ).first?.int("n") ?? 0
                guard count > 0 else { continue }
                if try Self.isHeld(range, holds: holds, connection) {
                    outcome.heldRanges.append(range)
                    continue
                }
                try connection.query(
                    "INSERT INTO audit_purge_authorization (from_seq, to_seq) VALUES ($1, $2)", [range.lowerBound, range.upperBound]
                )
                try connection.query("DELETE FROM audit_records WHERE seq BETWEEN $1 AND $2", [range.lowerBound, range.upperBound])
                try connection.query("DELETE FROM audit_purge_authorization")
                outcome.purgedRanges.append(range)
                outcome.purgedRecords += count
            }
            try appendChained([record(outcome).canonicalJSON()], connection)
            return outcome
        }
    }

    private static func isHeld(_ range: ClosedRange<Int64>, holds: [LegalHold], _ connection: PostgresConnection) throws -> Bool {
        for hold in holds {
            let held: Bool
            switch hold.scope {
            case .range(let heldRange): held = heldRange.overlaps(range)
            case .user(let name):
                held = try connection.query(
                    "SELECT 1 FROM audit_records WHERE seq BETWEEN $1 AND $2 AND user_name = $3 LIMIT 1", [range.lowerBound, range.upperBound, name]
                ).first != nil
            case .session(let id):
                held = try connection.query(
                    "SELECT 1 FROM audit_records WHERE seq BETWEEN $1 AND $2 AND session = $3 LIMIT 1", [range.lowerBound, range.upperBound, id]
                ).first != nil
            }
            if held { return true }
        }
        return false
    }

    public func addHold(_ scope: LegalHold.Scope, reason: String, by actor: String, at time: Date, event: (Int64) -> AuditEvent) throws -> Int64 {
        try database.transaction { connection in
            let (kind, value) = scope.stored
            guard let row = try connection.query(
                "INSERT INTO audit_holds (kind, value, reason, created_at, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING id",
                [kind, value, reason, AuditEvent.timestamp(time), actor]
            ).first else { throw StoreError(.unavailable, "the legal hold was not stored") }
            let id = try row.int64("id")
            try appendChained([event(id).canonicalJSON()], connection)
            return id
        }
    }

    public func removeHold(id: Int64, by actor: String, at time: Date, event: (LegalHold) -> AuditEvent) throws -> LegalHold {
        try database.transaction { connection in
            guard var hold = try Self.holds(connection).first(where: { $0.id == id }), hold.isActive else {
                throw StoreError(.notFound, "no active legal hold with id \(id)")
            }
            try connection.query(
                "UPDATE audit_holds SET removed_at = $1, removed_by = $2 WHERE id = $3 AND removed_at IS NULL", [AuditEvent.timestamp(time), actor, id]
            )
            hold.removedAt = time
            hold.removedBy = actor
            try appendChained([event(hold).canonicalJSON()], connection)
            return hold
        }
    }

    public func holds() throws -> [LegalHold] {
        try database.run { connection in try Self.holds(connection) }
    }

    public func heldRecordingOwners() throws -> (users: Set<String>, sessions: Set<String>) {
        try database.run { connection in
            var users = Set<String>()
            var sessions = Set<String>()
            for hold in try Self.holds(connection) where hold.isActive {
                switch hold.scope {
                case .user(let name): users.insert(name)
                case .session(let id): sessions.insert(id)
                case .range(let range):
                    for row in try connection.query(
                        "SELECT DISTINCT session FROM audit_records WHERE seq BETWEEN $1 AND $2 AND session IS NOT NULL",
                        [range.lowerBound, range.upperBound]
                    ).all {
                        sessions.insert(try row.text("session"))
                    }
                }
            }
            return (users, sessions)
        }
    }

    private static func holds(_ connection: PostgresConnection) throws -> [LegalHold] {
        try connection.query("SELECT * FROM audit_holds ORDER BY id").all.compactMap { row in
            guard let scope = LegalHold.Scope(storedKind: try row.text("kind"), value: try row.text("value")) else { return nil }
            return LegalHold(
                id: try row.int64("id"), scope: scope, reason: try row.text("reason"),
                createdAt: AuditEvent.parseTimestamp(try row.text("created_at")) ?? .distantPast, createdBy: try row.text("created_by"),
                removedAt: try row.optionalText("removed_at").flatMap(AuditEvent.parseTimestamp), removedBy: try row.optionalText("removed_by")
            )
        }
    }
}
