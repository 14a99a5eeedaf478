public import BastionCore
public import Foundation
import Synchronization

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
        /// Another node holds this sink's lease and delivers it; this one stands by.
        case standby
    }

    public let sink: any SIEMSink
    private let outbox: any OutboxStore
    private let installation: String
    private let backoff: DeliveryBackoff
    private let clock: any WallClock
    private let batchLimit: Int
    private let random: @Sendable () -> Double
    private let failures = AttemptCounter()
    /// Set for a sink with `stream_sessions = true`.
    private let streamer: SessionStreamer?
    private let streamTurn = Atomic<Bool>(false)

    public init(
        sink: any SIEMSink, outbox: any OutboxStore, installation: String, backoff: DeliveryBackoff = .init(),
        clock: any WallClock = SystemWallClock(), batchLimit: Int = 500, streamSessions: Bool = false, recordingKeys: RecordingKeys? = nil,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.streamer = streamSessions
            ? SessionStreamer(sink: sink.name, outbox: outbox, installation: installation, keys: recordingKeys) : nil
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

    /// Delivers the next batch, if any: pieces of live recordings (for a sink that streams
    /// sessions), then records, then the checkpoints sealing them. A `session.end` waits
    /// until its recording has been streamed to the end, so start and end bracket the data.
    public func step() throws -> Step {
        let now = clock.now()
        // Several nodes, one database: only the lease holder delivers, so each record goes
        // out from one node at a time, and a dead node's sink is taken over when its lease lapses.
        guard try outbox.holdLease(sink.name, now: now) else { return .standby }
        let cursor = try outbox.cursor(of: sink.name, now: now)
        // Alternate with records, so neither a busy log nor a chatty session starves the other.
        if let streamer, !streamTurn.exchange(true, ordering: .relaxed) {
            let live = try streamer.pending(now: now)
            if !live.isEmpty { return try deliver(live) }
        }
        streamTurn.store(false, ordering: .relaxed)
        var batch: [(seq: Int64, event: AuditEvent?, bytes: [UInt8], error: String?)] = try outbox.pending(after: cursor, limit: batchLimit).map { seq, bytes in
            do { return (seq, try AuditEvent(canonicalJSON: bytes), bytes, nil) } catch { return (seq, nil, bytes, "unreadable record: \(error)") }
        }
        if let streamer {
            // A session.end waits for its stream: one already open, or one this batch opens
            // (its session.start came earlier in the batch, when the relay was behind).
            var streamed = Set(try outbox.streams(of: sink.name).map(\.sessionID))
            let end = batch.firstIndex { item in
                guard let event = item.event, let session = Self.sessionID(of: event) else { return false }
                if event.type == .sessionStart, let path = event.details[.recording], path != "none" { streamed.insert(session) }
                return event.type == .sessionEnd && streamed.contains(session)
            }
            if let end {
                if end == 0, let session = Self.sessionID(of: batch[0].event) {
                    let rest = try streamer.pending(finishing: session, now: now)
                    if !rest.isEmpty { return try deliver(rest) }
                    try outbox.closeStream(sink.name, sessionID: session)
                } else {
                    batch = Array(batch[..<end])
                }
            }
        }
        guard let last = batch.last?.seq else { return try stepCheckpoints() }
        var unreadable: [(seq: Int64, reason: String)] = []
        var records: [SIEMRecord] = []
        var starts: [(session: String, path: String)] = []
        for (seq, event, bytes, error) in batch {
            guard let event else {
                unreadable.append((seq, error ?? "unreadable record"))
                continue
            }
            if streamer != nil, event.type == .sessionStart, let session = Self.sessionID(of: event),
                let path = event.details[.recording], path != "none"
            {
                starts.append((session, path))
            }
            guard sink.accepts(event.type.name) else { continue }
            records.append(SIEMRecord(seq: seq, eventID: Self.eventID(installation: installation, seq: seq), event: event, canonicalJSON: bytes))
        }
        let rejected: [(seq: Int64, reason: String)]
        do {
            rejected = try deliver(records)
        } catch {
            try outbox.recordFailure(sink.name, reason: error.reason, now: clock.now())
            return .retryLater(delay: backoff.delay(attempt: failures.increment(), unit: random()), reason: error.reason)
        }
        // Streams open before the cursor moves past their session.start (idempotent on retry).
        for start in starts { try outbox.openStream(sink.name, sessionID: start.session, path: start.path) }
        try outbox.advance(sink.name, to: last, rejected: unreadable + rejected, now: clock.now())
        failures.reset()
        return .delivered(count: records.count - rejected.count, through: last)
    }

    /// Sends pieces of recordings and moves each stream's cursor past what was delivered.
    private func deliver(_ chunks: [SessionStreamer.Chunk]) throws -> Step {
        let rejected: [(seq: Int64, reason: String)]
        do {
            rejected = try deliver(chunks.map(\.record))
        } catch {
            try outbox.recordFailure(sink.name, reason: error.reason, now: clock.now())
            return .retryLater(delay: backoff.delay(attempt: failures.increment(), unit: random()), reason: error.reason)
        }
        var latest: [String: SessionStreamer.Chunk] = [:]
        for chunk in chunks { latest[chunk.sessionID] = chunk }
        for chunk in latest.values {
            try outbox.advanceStream(sink.name, sessionID: chunk.sessionID, deliveredBytes: chunk.deliveredBytes, nextChunk: chunk.nextChunk)
        }
        if !rejected.isEmpty {
            // A refused piece is kept on record; the stream goes on (seq 0: not a chain record).
            try outbox.advance(sink.name, to: 0, rejected: rejected.map { (0, "session.data refused: \($0.reason)") }, now: clock.now())
        }
        failures.reset()
        return .delivered(count: chunks.count - rejected.count, through: try outbox.cursor(of: sink.name, now: clock.now()))
    }

    /// The session an event is about (v2 block, or v1 `details.session_id`).
    static func sessionID(of event: AuditEvent?) -> String? {
        event?.session?.id.rawValue ?? event?.details[.sessionID]
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
                case .idle, .standby: pause = idlePoll
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
