import Foundation

/// The bounded hand-off between the relay (producers) and a recorder's writer thread.
///
/// A state machine in the STYLE rule 3 sense: every input is a `mutating` method returning
/// what the owner must do (wake the writer, write a batch, finish, give up). `SessionRecorder`
/// keeps it in a `Mutex`; the struct itself knows nothing of threads, so it is tested alone.
///
/// Never drops (STYLE rule 11): a full queue refuses the offer and the relay stops reading
/// from the target until a later offer succeeds. The writer takes the whole queue at once, so
/// space comes back in one step rather than one slot at a time.
struct RecordingQueue: Sendable {
    /// An accepted event with its time in seconds since the recording started.
    struct Entry: Sendable, Equatable {
        var time: TimeInterval
        var event: RecordingEvent
    }

    /// What the producer learns, and whether it must wake a writer that is asleep.
    enum OfferAction: Equatable {
        case accepted(wakeWriter: Bool)
        case rejected
    }

    /// What the writer thread does next.
    enum TakeAction: Equatable {
        /// Encode and write these, in this order.
        case write([Entry])
        /// Nothing to do: sleep until woken or until a pending flush is due.
        case wait
        /// `close()` was called and the queue is empty: write the rest, fsync, report.
        case finish(duration: TimeInterval)
        /// Stop without writing what is buffered: the test hook that imitates `kill -9`.
        case abandon
    }

    /// What `close()` learns.
    enum CloseAction: Equatable {
        case requested(wakeWriter: Bool)
        case alreadyClosed
    }

    let capacity: Int
    /// Bytes of event data the queue holds before offers are refused; one event is always
    /// accepted into an empty queue, whatever its size. Bounds memory per session: a bulk
    /// download offers chunks of up to 128 KiB, and `capacity` events of that size would
    /// be 32 MiB.
    let byteCapacity: Int
    private(set) var entries: [Entry] = []
    /// Bytes of data in `entries`.
    private(set) var queuedBytes = 0
    /// Set by the writer under the lock just before it sleeps, so producers signal only then.
    private(set) var writerWaiting = false
    /// The time of the newest accepted event; later events never go back before it, so a
    /// wall clock stepping backwards cannot produce a file whose times decrease.
    private(set) var lastTime: TimeInterval = 0
    private(set) var failure: RecordingError?
    private(set) var closeDuration: TimeInterval?
    private(set) var abandoned = false

    init(capacity: Int, byteCapacity: Int = 2 << 20) {
        self.capacity = max(1, capacity)
        self.byteCapacity = max(1, byteCapacity)
    }

    /// Whether producers are being turned away for good (closed, failed or abandoned), as
    /// opposed to for now (full).
    var isShut: Bool { closeDuration != nil || failure != nil || abandoned }

    /// Accepts `event` at `offset` seconds since the start, unless the queue is full or shut.
    mutating func offer(_ event: RecordingEvent, at offset: TimeInterval) -> OfferAction {
        let size = event.byteCount
        guard !isShut, entries.count < capacity, entries.isEmpty || queuedBytes + size <= byteCapacity else { return .rejected }
        lastTime = max(lastTime, offset.isFinite ? offset : 0)
        entries.append(Entry(time: lastTime, event: event))
        queuedBytes += size
        return .accepted(wakeWriter: consumeWaiting())
    }

    /// Hands the writer everything queued, or tells it to finish, give up or sleep.
    mutating func take() -> TakeAction {
        if abandoned { return .abandon }
        if !entries.isEmpty {
            let batch = entries
            entries.removeAll(keepingCapacity: true)
            queuedBytes = 0
            return .write(batch)
        }
        if let closeDuration { return .finish(duration: closeDuration) }
        writerWaiting = true
        return .wait
    }

    /// The writer woke up (signalled or timed out).
    mutating func writerWoke() {
        writerWaiting = false
    }

    /// Stops accepting events; the writer drains what is queued and then finishes.
    mutating func requestClose(at offset: TimeInterval) -> CloseAction {
        guard closeDuration == nil, !abandoned else { return .alreadyClosed }
        closeDuration = max(lastTime, offset.isFinite ? offset : 0)
        return .requested(wakeWriter: consumeWaiting())
    }

    /// A write failed: remember why, refuse further events, and discard the queued ones,
    /// which can no longer reach the file.
    mutating func fail(_ error: RecordingError) {
        if failure == nil { failure = error }
        entries.removeAll()
        queuedBytes = 0
    }

    /// Test hook: imitate the process dying.
    mutating func abandon() -> Bool {
        abandoned = true
        return consumeWaiting()
    }

    private mutating func consumeWaiting() -> Bool {
        defer { writerWaiting = false }
        return writerWaiting
    }
}
