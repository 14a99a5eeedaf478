public import BastionCrypto
public import Foundation

/// Recomputes an audit chain record by record and checks it against its signed checkpoints.
///
/// Streaming (feed records in `seq` order, then ``finish()``), so a million records verify in
/// constant memory, from the database or from an export file alike. Each problem names the
/// first `seq` it affects and says why; after a problem the verifier re-anchors on the stored
/// hash, so one altered record is reported once, not as every record after it.
///
/// Gaps are legitimate only where retention may have made them: whole ranges between two
/// checkpoints whose closing checkpoint's signed time is older than the retention floor.
public struct AuditChainVerifier {
    /// Where the verified range starts.
    public enum Anchor: Sendable {
        /// The very first record: its previous hash is ``AuditChain/genesisHash``.
        case genesis
        /// Verification starts after `seq`, whose hash is `hash` (read from the log or an
        /// export; authenticated only when a later checkpoint covers it).
        case after(seq: Int64, hash: [UInt8])
    }

    private let checkpoints: [Int64: AuditCheckpoint]
    private let purgeableBefore: Date
    private let hasher = SHA256Hasher()
    private var computed = [UInt8](repeating: 0, count: 32)

    private var expectedSeq: Int64
    /// The hash the next record must chain from; nil after an unexplained gap.
    private var previousHash: [UInt8]?
    private var lastSeq: Int64?
    private(set) public var report: AuditVerificationReport

    /// - Parameters:
    ///   - checkpoints: every checkpoint of the range (others are ignored).
    ///   - purgeableBefore: a gap is legitimate only if its closing checkpoint was signed before
    ///     this time (now minus the seven-year floor, not the configured retention).
    public init(anchor: Anchor, checkpoints: [AuditCheckpoint], publicKey: Ed25519PublicKey, purgeableBefore: Date) {
        self.init(anchor: anchor, checkpoints: checkpoints, keys: AuditKeyTrust(anchor: publicKey, history: []), purgeableBefore: purgeableBefore)
    }

    /// - Parameter keys: the key history as checked from the verifier's trusted key; its
    ///   problems are reported first, and each checkpoint verifies with the key it names.
    public init(anchor: Anchor, checkpoints: [AuditCheckpoint], keys: AuditKeyTrust, purgeableBefore: Date) {
        self.checkpoints = Dictionary(checkpoints.map { ($0.seq, $0) }, uniquingKeysWith: { first, _ in first })
        self.purgeableBefore = purgeableBefore
        switch anchor {
        case .genesis:
            expectedSeq = 1
            previousHash = AuditChain.genesisHash
        case .after(let seq, let hash):
            expectedSeq = seq + 1
            previousHash = hash
        }
        report = AuditVerificationReport(firstSeq: nil, lastSeq: nil)
        report.keyVersions = keys.history.count
        for problem in keys.problems { report.add(problem) }
        for checkpoint in checkpoints.sorted(by: { $0.seq < $1.seq }) {
            report.checkpointsChecked += 1
            if let problem = keys.problem(with: checkpoint) { report.add(problem) }
        }
    }

    /// Checks one record; `bytes` are its canonical bytes, `storedHash` the hash stored with it.
    public mutating func check(seq: Int64, bytes: UnsafeRawBufferPointer, storedHash: UnsafeRawBufferPointer) {
        if report.firstSeq == nil { report.firstSeq = seq }
        report.lastSeq = seq
        report.recordsChecked += 1
        if seq < expectedSeq {
            report.add(.init(seq: seq, kind: .outOfOrder, detail: "seq \(seq) appears after seq \(expectedSeq - 1) (records out of order)"))
        } else if seq > expectedSeq {
            checkGap(from: expectedSeq, to: seq - 1)
        }
        if let claimed = AuditRecord.claimedSeq(in: bytes), claimed != seq {
            report.add(.init(seq: seq, kind: .moved,
                             detail: "record stored at seq \(seq) was written as seq \(claimed) (records swapped, renumbered or inserted)"))
        } else if let previousHash {
            computed.withUnsafeMutableBytes { output in
                previousHash.withUnsafeBytes { hasher.hash($0, bytes, into: output) }
            }
            if !computed.elementsEqual(storedHash) {
                let claimed = AuditRecord.claimedSeq(in: bytes)
                report.add(.init(seq: seq, kind: claimed == nil ? .malformed : .altered, detail: claimed == nil
                    ? "seq \(seq) is not a record envelope (row replaced)"
                    : "seq \(seq) does not match the chain: its content or hash was altered, or it was inserted"))
            }
        }
        let stored = Array(storedHash)
        if let checkpoint = checkpoints[seq], checkpoint.hash != stored {
            report.add(.init(seq: seq, kind: .checkpointMismatch,
                             detail: "checkpoint at seq \(seq) signed another hash: the chain up to seq \(seq) was rewritten"))
        }
        previousHash = stored
        expectedSeq = seq + 1
        lastSeq = seq
    }

    /// Checks one record held in arrays.
    public mutating func check(seq: Int64, bytes: [UInt8], storedHash: [UInt8]) {
        bytes.withUnsafeBytes { b in storedHash.withUnsafeBytes { h in check(seq: seq, bytes: b, storedHash: h) } }
    }

    /// Ends the range: reports a truncated tail (a signed checkpoint beyond the last record,
    /// up to `lastExpectedSeq` when the range was bounded) and the unsigned tail.
    public mutating func finish(upTo bound: Int64? = nil) -> AuditVerificationReport {
        let last = lastSeq ?? (expectedSeq - 1)
        let beyond = checkpoints.keys.filter { $0 > last && (bound == nil || $0 <= bound!) }
        if let furthest = beyond.max() {
            report.add(.init(seq: last + 1, kind: .truncated,
                             detail: "records \(last + 1)...\(furthest) are missing but checkpoint \(furthest) is signed (log truncated)"))
        }
        let sealed = checkpoints.keys.filter { $0 <= last }.max()
        report.lastCheckpointSeq = sealed
        report.unsealedRecords = Int(last - (sealed ?? (report.firstSeq.map { $0 - 1 } ?? last)))
        return report
    }

    /// Checks a record of a filtered selection on its own: its bytes against its hash given
    /// its previous hash, its claimed seq, and any checkpoint at its seq. No continuity.
    public mutating func checkAlone(seq: Int64, previousHash: [UInt8], bytes: [UInt8], storedHash: [UInt8]) {
        if report.firstSeq == nil { report.firstSeq = seq }
        report.lastSeq = seq
        report.recordsChecked += 1
        let claimed = bytes.withUnsafeBytes { AuditRecord.claimedSeq(in: $0) }
        if claimed != seq {
            report.add(.init(seq: seq, kind: .moved, detail: "record at seq \(seq) was written as seq \(claimed.map(String.init) ?? "?")"))
        } else if hasher.hash(previousHash, bytes) != storedHash {
            report.add(.init(seq: seq, kind: .altered, detail: "seq \(seq) does not match its hash: content or hash altered"))
        }
        if let checkpoint = checkpoints[seq], checkpoint.hash != storedHash {
            report.add(.init(seq: seq, kind: .checkpointMismatch, detail: "checkpoint at seq \(seq) signed another hash"))
        }
        lastSeq = seq
    }

    /// Ends a filtered check.
    public mutating func finishAlone() -> AuditVerificationReport {
        report.isSelection = true
        return report
    }

    private mutating func checkGap(from first: Int64, to last: Int64) {
        let opensAtCheckpoint = first == 1 || checkpoints[first - 1] != nil
        if opensAtCheckpoint, let closing = checkpoints[last], closing.time <= purgeableBefore {
            report.purgedRanges.append(first...last)
            previousHash = closing.hash
            return
        }
        let why = opensAtCheckpoint && checkpoints[last] != nil
            ? "deleted before their retention date"
            : "deleted (the gap is not a whole checkpoint range)"
        report.add(.init(seq: first, kind: .missing, detail: first == last
            ? "seq \(first) is missing: \(why)"
            : "records \(first)...\(last) are missing: \(why)"))
        previousHash = nil
    }
}

/// What ``AuditChainVerifier`` found, fit for an auditor's report.
public struct AuditVerificationReport: Sendable {
    public struct Problem: Sendable, Hashable {
        public enum Kind: String, Sendable {
            case altered, malformed, moved, missing, outOfOrder = "out_of_order", truncated
            case checkpointSignature = "checkpoint_signature", checkpointMismatch = "checkpoint_mismatch"
            case checkpointKey = "checkpoint_key", keyHistory = "key_history"
        }
        public var seq: Int64
        public var kind: Kind
        public var detail: String
    }

    public var firstSeq: Int64?
    public var lastSeq: Int64?
    public var recordsChecked = 0
    public var checkpointsChecked = 0
    /// Audit keys in the key history checked (1 before any rotation).
    public var keyVersions = 1
    public var lastCheckpointSeq: Int64?
    /// Records after the last checkpoint: chained, but not yet covered by a signature.
    public var unsealedRecords = 0
    /// Ranges legitimately purged by retention.
    public var purgedRanges: [ClosedRange<Int64>] = []
    /// The first problems found (at most ``problemLimit``); `problemCount` counts them all.
    public var problems: [Problem] = []
    public var problemCount = 0
    public static let problemLimit = 1_000

    /// True for a filtered export: records were checked one by one, continuity was not.
    public var isSelection = false

    public var isIntact: Bool { problemCount == 0 }

    mutating func add(_ problem: Problem) {
        problemCount += 1
        if problems.count < Self.problemLimit { problems.append(problem) }
    }
}
