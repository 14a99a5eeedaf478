public import BastionCore
public import BastionStore
public import Foundation

/// Delivers one sink's share of the audit chain, in order and at least once.
///
/// Each step reads the next batch after the sink's cursor, keeps what the sink's filter
/// wants, sends it, and only then moves the cursor (so a crash between send and commit
/// re-sends: receivers de-duplicate on the event id). A receiver that is down is retried
/// with backoff and never blocks anything else; records it refuses (4xx) are found one by
/// one and dead-lettered with its reason, and delivery moves on.
public final class SinkRelay: Sendable {
    public enum Step: Sendable, Equatable {
        /// Nothing to send.
        case idle
        /// Sent `count` records (0 when the batch held none the sink wants); cursor at `through`.
        case delivered(count: Int, through: Int64)
        /// The receiver is unreachable or failing: try again after `delay`.
        case retryLater(delay: TimeInterval, reason: String)
    }

    public let sink: any SIEMSink
    private let outbox: SQLiteSIEMOutbox
    private let installation: String
    private let backoff: DeliveryBackoff
    private let clock: any WallClock
    private let batchLimit: Int
    private let random: @Sendable () -> Double
    private let failures = AttemptCounter()

    public init(
        sink: any SIEMSink, outbox: SQLiteSIEMOutbox, installation: String, backoff: DeliveryBackoff = .init(),
        clock: any WallClock = SystemWallClock(), batchLimit: Int = 500, random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.sink = sink
        self.outbox = outbox
        self.installation = installation
        self.backoff = backoff
        self.clock = clock
        self.batchLimit = batchLimit
        self.random = random
    }

    /// The stable id of record `seq` at this installation.
    public static func eventID(installation: String, seq: Int64) -> String { "bastion-\(installation)-\(seq)" }

    /// The event a sink receives for a signed checkpoint (`audit.checkpoint`, not chained).
    public static func checkpointRecord(_ checkpoint: AuditCheckpoint, installation: String) -> SIEMRecord {
        let event = AuditEvent(
            type: .auditCheckpoint, time: checkpoint.time, actor: .init(user: nil, method: "daemon"),
            details: [
                "seq": String(checkpoint.seq), "hash": AuditChain.hex(checkpoint.hash), "time_ms": String(checkpoint.timeMilliseconds),
                "signature": Data(checkpoint.signature).base64EncodedString(),
            ]
        )
        return SIEMRecord(
            seq: checkpoint.seq, eventID: "bastion-\(installation)-checkpoint-\(checkpoint.seq)", event: event,
            canonicalJSON: event.canonicalJSON()
        )
    }

    /// Delivers the next batch, if any: records first, then the checkpoints sealing them.
    public func step() throws -> Step {
        let now = clock.now()
        let cursor = try outbox.cursor(of: sink.name, now: now)
        let batch = try outbox.pending(after: cursor, limit: batchLimit)
        guard let last = batch.last?.seq else { return try stepCheckpoints() }
        var unreadable: [(seq: Int64, reason: String)] = []
        var records: [SIEMRecord] = []
        for (seq, bytes) in batch {
            do {
                let event = try AuditEvent(canonicalJSON: bytes)
                guard sink.accepts(event.type.name) else { continue }
                records.append(SIEMRecord(seq: seq, eventID: Self.eventID(installation: installation, seq: seq), event: event, canonicalJSON: bytes))
            } catch {
                unreadable.append((seq, "unreadable record: \(error)"))
            }
        }
        let rejected: [(seq: Int64, reason: String)]
        do {
            rejected = try deliver(records)
        } catch {
            try outbox.recordFailure(sink.name, reason: error.reason, now: clock.now())
            return .retryLater(delay: backoff.delay(attempt: failures.increment(), unit: random()), reason: error.reason)
        }
        try outbox.advance(sink.name, to: last, rejected: unreadable + rejected, now: clock.now())
        failures.reset()
        return .delivered(count: records.count - rejected.count, through: last)
    }

    /// Sends the checkpoints sealing records the sink already has.
    private func stepCheckpoints() throws -> Step {
        let checkpoints = try outbox.pendingCheckpoints(of: sink.name)
        guard let last = checkpoints.last else { return .idle }
        let records = checkpoints.map { Self.checkpointRecord($0, installation: installation) }.filter { sink.accepts($0.event.type.name) }
        do {
            _ = try deliver(records)
        } catch {
            try outbox.recordFailure(sink.name, reason: error.reason, now: clock.now())
            return .retryLater(delay: backoff.delay(attempt: failures.increment(), unit: random()), reason: error.reason)
        }
        try outbox.advanceCheckpoints(sink.name, to: last.seq)
        failures.reset()
        return .delivered(count: records.count, through: last.seq)
    }

    /// Sends `records`; a rejected batch is retried record by record so that only the
    /// records the receiver refuses are dead-lettered. Throws only retryable errors.
    private func deliver(_ records: [SIEMRecord]) throws(SIEMDeliveryError) -> [(seq: Int64, reason: String)] {
        guard !records.isEmpty else { return [] }
        do {
            try sink.deliver(records)
            return []
        } catch where error.kind == .rejected {
            guard records.count > 1 else { return [(records[0].seq, error.reason)] }
            var rejected: [(seq: Int64, reason: String)] = []
            for record in records {
                do {
                    try sink.deliver([record])
                } catch where error.kind == .rejected {
                    rejected.append((record.seq, error.reason))
                }
            }
            return rejected
        }
    }

    /// Runs steps until `shouldStop` says so: polls every `idlePoll` when idle, waits the
    /// backoff after a failure. Meant for a thread of its own (the sink may block).
    public func run(
        idlePoll: TimeInterval = 0.2, shouldStop: @Sendable () -> Bool, onStep: @Sendable (Step) -> Void = { _ in },
        onError: @Sendable (any Error) -> Void = { _ in }
    ) {
        while !shouldStop() {
            let pause: TimeInterval
            do {
                let step = try step()
                onStep(step)
                switch step {
                case .idle: pause = idlePoll
                case .delivered: pause = 0
                case .retryLater(let delay, _): pause = delay
                }
            } catch {
                onError(error)
                pause = 1
            }
            var waited: TimeInterval = 0
            while waited < pause, !shouldStop() {
                let slice = min(0.1, pause - waited)
                Thread.sleep(forTimeInterval: slice)
                waited += slice
            }
        }
    }
}

/// Consecutive failed attempts, for the backoff.
private final class AttemptCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func increment() -> Int { lock.withLock { count += 1; return count } }
    func reset() { lock.withLock { count = 0 } }
}
