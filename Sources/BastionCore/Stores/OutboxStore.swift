public import Foundation

/// A sink's bookkeeping, for `bastiond siem status` and the metrics.
public struct OutboxSinkState: Sendable {
    public var sink: String
    public var deliveredSeq: Int64
    public var deliveredAt: Date?
    /// Records after the cursor (whatever their type: the sink's filter applies at send).
    public var depth: Int64
    /// Time of the oldest undelivered record.
    public var oldestPending: Date?
    public var attempts: Int
    public var lastError: String?
    public var lastErrorAt: Date?
    public var deadLetters: Int

    public init(
        sink: String, deliveredSeq: Int64, deliveredAt: Date?, depth: Int64, oldestPending: Date?, attempts: Int, lastError: String?,
        lastErrorAt: Date?, deadLetters: Int
    ) {
        self.sink = sink
        self.deliveredSeq = deliveredSeq
        self.deliveredAt = deliveredAt
        self.depth = depth
        self.oldestPending = oldestPending
        self.attempts = attempts
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
        self.deadLetters = deadLetters
    }
}

/// A recording being streamed to a sink.
public struct OutboxStream: Sendable, Equatable {
    public var sessionID: String
    public var path: String
    public var deliveredBytes: Int64
    public var nextChunk: Int64

    public init(sessionID: String, path: String, deliveredBytes: Int64, nextChunk: Int64) {
        self.sessionID = sessionID
        self.path = path
        self.deliveredBytes = deliveredBytes
        self.nextChunk = nextChunk
    }
}

public struct OutboxDeadLetter: Sendable {
    public var sink: String
    public var seq: Int64
    public var reason: String
    public var time: Date

    public init(sink: String, seq: Int64, reason: String, time: Date) {
        self.sink = sink
        self.seq = seq
        self.reason = reason
        self.time = time
    }
}


/// The durable delivery outbox for SIEM sinks and chat-ops webhooks: the audit chain itself,
/// read through one cursor per sink (a record is queued by the transaction that appends it),
/// plus the streams of live recordings and the dead letters.
///
/// With several nodes on one database each sink is delivered by one node at a time: the
/// node that holds its lease (``holdLease(_:now:)``). A node that dies stops renewing; its
/// lease runs out and another node resumes from the last committed cursor (at least once:
/// receivers de-duplicate on the event id).
public protocol OutboxStore: Sendable {
    /// Takes or renews this node's lease on `sink`; false while another node holds it.
    func holdLease(_ sink: String, now: Date) throws -> Bool
    /// The last seq delivered to `sink`; a new sink is registered at the head.
    func cursor(of sink: String, now: Date) throws -> Int64
    /// Up to `limit` records after `seq`, oldest first, as (seq, event canonical JSON).
    func pending(after seq: Int64, limit: Int) throws -> [(seq: Int64, event: [UInt8])]
    /// Checkpoints not yet sent to `sink` that seal records it already has.
    func pendingCheckpoints(of sink: String) throws -> [AuditCheckpoint]
    /// Records that checkpoints up to `seq` reached `sink`.
    func advanceCheckpoints(_ sink: String, to seq: Int64) throws
    /// Moves `sink`'s cursor to `seq` after a delivery, dead-lettering `rejected` in the same transaction.
    func advance(_ sink: String, to seq: Int64, rejected: [(seq: Int64, reason: String)], now: Date) throws
    /// Records a failed attempt (kept for `siem status`).
    func recordFailure(_ sink: String, reason: String, now: Date) throws
    func state(of sink: String) throws -> OutboxSinkState?
    func deadLetters(of sink: String?) throws -> [OutboxDeadLetter]
    func openStream(_ sink: String, sessionID: String, path: String) throws
    func streams(of sink: String) throws -> [OutboxStream]
    func advanceStream(_ sink: String, sessionID: String, deliveredBytes: Int64, nextChunk: Int64) throws
    func closeStream(_ sink: String, sessionID: String) throws
}

extension OutboxStore {
    public func advance(_ sink: String, to seq: Int64, now: Date) throws {
        try advance(sink, to: seq, rejected: [], now: now)
    }

    public func deadLetters() throws -> [OutboxDeadLetter] { try deadLetters(of: nil) }
}
