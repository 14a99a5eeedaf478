public import BastionCrypto
public import Foundation

/// What `bastiond audit search` and `export` select: every field optional, all combined.
public struct AuditQuery: Sendable {
    public var user: String?
    /// A type name, or a glob over names (`file.*`).
    public var type: String?
    public var target: String?
    /// A glob over the `path` detail (file operations: `file.*`).
    public var path: String?
    public var session: String?
    public var since: Date?
    public var until: Date?
    public var fromSeq: Int64?
    public var toSeq: Int64?
    public var limit: Int?

    public init(
        user: String? = nil, type: String? = nil, target: String? = nil, session: String? = nil, since: Date? = nil, until: Date? = nil,
        fromSeq: Int64? = nil, toSeq: Int64? = nil, limit: Int? = nil, path: String? = nil
    ) {
        self.path = path
        self.user = user
        self.type = type
        self.target = target
        self.session = session
        self.since = since
        self.until = until
        self.fromSeq = fromSeq
        self.toSeq = toSeq
        self.limit = limit
    }

    /// True when only a contiguous seq/time range is selected (an export of it verifies as a chain).
    public var isContiguous: Bool { user == nil && type == nil && target == nil && session == nil && path == nil && limit == nil }

    /// Whether `type` is a glob (`*`, `?`) rather than one name.
    public var typeIsPattern: Bool { type.map { $0.contains("*") || $0.contains("?") } ?? false }

    /// `pattern` (`*`, `?`) as an SQL LIKE pattern with `\` as its escape character.
    public static func likePattern(_ pattern: String) -> String {
        var like = ""
        for character in pattern {
            switch character {
            case "*": like += "%"
            case "?": like += "_"
            case "%", "_", "\\": like += "\\" + String(character)
            default: like.append(character)
            }
        }
        return like
    }
}

/// One stored record, with its event decoded into the columns searches use.
public struct AuditStoredRecord: Sendable {
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

    public init(
        seq: Int64, type: String, time: String, user: String?, session: String?, target: String?, json: String, recordBytes: [UInt8],
        hash: [UInt8], previousHash: [UInt8]
    ) {
        self.seq = seq
        self.type = type
        self.time = time
        self.user = user
        self.session = session
        self.target = target
        self.json = json
        self.recordBytes = recordBytes
        self.hash = hash
        self.previousHash = previousHash
    }
}

/// Finds the private half of an audit key version (the key provider's side of rotation).
public protocol AuditSigningKeys: Sendable {
    func signer(version: Int) throws -> any Ed25519Signer
}

/// How checkpoints are made.
public struct AuditSealing: Sendable {
    /// Signs checkpoints; nil only in tests of unsealed chains.
    public var key: (any Ed25519Signer)?
    /// The version of `key` in the audit key history.
    public var keyVersion: Int
    /// Where other versions are found: after `bastiond keys rotate-audit` in another process,
    /// the key history's newest version signs, and a running daemon loads it from here.
    public var keys: (any AuditSigningKeys)?
    /// A checkpoint every this many records (time-based ones come from ``checkpoint()``).
    public var every: Int

    public init(key: (any Ed25519Signer)?, keyVersion: Int = 1, keys: (any AuditSigningKeys)? = nil, every: Int = 1_000) {
        self.key = key
        self.keyVersion = keyVersion
        self.keys = keys
        self.every = every
    }

    /// The signer of `version` (the key history's current one), nil when unsealed. Fails
    /// closed when this process cannot sign with the current version: a checkpoint signed by
    /// a retired key would not verify.
    public func signer(version: Int) throws -> (any Ed25519Signer)? {
        guard let key else { return nil }
        if version == keyVersion { return key }
        guard let keys else {
            throw StoreError(.unavailable, "audit key version \(version) is current, but this process holds only version \(keyVersion)")
        }
        do { return try keys.signer(version: version) } catch {
            throw StoreError(.unavailable, "audit key version \(version) is current but cannot be loaded: \(error)")
        }
    }
}

/// What one retention run removed, and what a legal hold kept.
public struct AuditPurgeOutcome: Sendable {
    public var purgedRanges: [ClosedRange<Int64>] = []
    public var purgedRecords = 0
    public var heldRanges: [ClosedRange<Int64>] = []

    public init() {}
}


/// The audit log: append-only, hash-chained, sealed by signed checkpoints, purged only by
/// retention. Implemented on SQLite (one node) and PostgreSQL (several nodes, one chain).
///
/// ``AuditEmitter/append(_:)`` returns only once the record is durable; a thrown error means
/// "not recorded" (fail closed). Holds and purges append their own record in the same
/// transaction as the change, so neither happens unrecorded.
public protocol AuditLogStore: AuditEmitter {
    /// Seals the newest record with a checkpoint unless it already has one; returns it.
    @discardableResult
    func checkpoint() throws -> AuditCheckpoint?
    /// Recomputes the chain over `from...to` (all when nil) and checks every checkpoint.
    func verify(publicKey: Ed25519PublicKey, from: Int64?, to: Int64?, purgeableBefore: Date) throws -> AuditVerificationReport
    /// Streams the records matching `query`, oldest first, from one consistent snapshot.
    func forEach(_ query: AuditQuery, _ body: (AuditStoredRecord) throws -> Void) throws
    /// The newest record of `type`.
    func latest(type: String) throws -> AuditStoredRecord?
    /// Checkpoints with `seq` in `range` (all when nil), oldest first.
    func checkpoints(in range: ClosedRange<Int64>?) throws -> [AuditCheckpoint]
    /// The stored hash of the newest record before `seq`, and its seq.
    func anchor(before seq: Int64) throws -> (seq: Int64, hash: [UInt8])?
    /// The lowest and highest stored seq.
    func bounds() throws -> ClosedRange<Int64>?
    /// Removes whole expired checkpoint ranges no active hold touches; appends `record(outcome)`.
    func purge(before cutoff: Date, record: (AuditPurgeOutcome) -> AuditEvent) throws -> AuditPurgeOutcome
    /// Places a hold and appends `event(id)` in one transaction; returns the hold's id.
    func addHold(_ scope: LegalHold.Scope, reason: String, by actor: String, at time: Date, event: (Int64) -> AuditEvent) throws -> Int64
    /// Ends hold `id` (kept on record as removed) and appends `event` in one transaction.
    func removeHold(id: Int64, by actor: String, at time: Date, event: (LegalHold) -> AuditEvent) throws -> LegalHold
    /// Every hold, active and removed, oldest first.
    func holds() throws -> [LegalHold]
    /// Users and sessions whose recordings an active hold keeps.
    func heldRecordingOwners() throws -> (users: Set<String>, sessions: Set<String>)
    /// The audit key history, oldest first (empty until the first rotation).
    func keyHistory() throws -> [AuditKeyEntry]
    /// Rotates the audit key, in one transaction with the chain head locked: seals the head
    /// with the current key (`current`, which must be the history's newest), appends the
    /// entry of `next` signed by `current`, and appends `event(entry)`. From the returned
    /// entry's `fromSeq` on, checkpoints are signed by `next` (``AuditSealing/keys`` finds it).
    func rotateKey(current: any Ed25519Signer, next: Ed25519PublicKey, at time: Date, event: (AuditKeyEntry) -> AuditEvent) throws -> AuditKeyEntry
}

extension AuditLogStore {
    /// Records after `seq`, oldest first, optionally of one type.
    public func records(after seq: Int64 = 0, type: String? = nil) throws -> [AuditStoredRecord] {
        try search(AuditQuery(type: type, fromSeq: seq + 1))
    }

    /// Records matching `query`, oldest first.
    public func search(_ query: AuditQuery) throws -> [AuditStoredRecord] {
        var records: [AuditStoredRecord] = []
        try forEach(query) { records.append($0) }
        return records
    }

    public func verify(publicKey: Ed25519PublicKey, purgeableBefore: Date) throws -> AuditVerificationReport {
        try verify(publicKey: publicKey, from: nil, to: nil, purgeableBefore: purgeableBefore)
    }

    public func checkpoints() throws -> [AuditCheckpoint] { try checkpoints(in: nil) }
}
