import Foundation

/// Group commit: callers queue their item; whichever finds no write in progress leads:
/// it writes the whole queue in one transaction, wakes exactly the members of that batch
/// with its outcome, and hands the lead to the first caller queued meanwhile. One fsync
/// then serves many appends, and no caller is woken for a batch it is not in.
///
/// Like PostgreSQL's `commit_delay`, a leader whose previous batch had company waits up to
/// ``gatherLimit`` for as many callers to queue again: woken writers take a moment to come
/// back, and without the wait each fsync would carry one or two records. A lone appender
/// never waits.
public final class GroupCommitter: @unchecked Sendable {
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

    public var statistics: (batches: Int, records: Int, seconds: Double) { lock.withLock { (batches, items, writeSeconds) } }

    public init() {}

    public func commit(_ item: [UInt8], write: ([[UInt8]]) throws -> Void) throws {
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
