import Foundation
import Dispatch
import Synchronization

/// Records one relayed session channel as an asciicast v2 file.
///
/// The relay thread offers events; a dedicated writer thread (never Swift's cooperative pool:
/// it blocks in write(2) and fsync) encodes and writes them. Between the two sits a bounded
/// `RecordingQueue`: an offer never blocks beyond a short lock and never drops, it returns
/// `false` when the queue is full and the relay stops reading from the target until a later
/// offer succeeds (STYLE rule 11; warpgate's writer, not teleport's emitter).
///
/// Durability: buffered lines reach the file with write(2) at least every `flushInterval`
/// (and whenever 64 KiB are pending), always as whole lines, so after `kill -9` the file is
/// readable up to the last flush; `close()` fsyncs. A `<id>.cast.open` marker lives as long
/// as the recording is unfinished; `RecordingRecovery` closes whatever a crash left behind.
///
/// Failure is loud: if a write fails, `failure` is set, every later offer returns `false`, and
/// `close()` throws. The relay reads `failure` whenever an offer is refused and applies the
/// configured policy (reject, terminate, continue unrecorded); the recorder never goes on
/// silently without recording.
public final class SessionRecorder: Sendable {
    /// The `.cast` file.
    public let path: String
    /// The sidecar marker, present until a clean close.
    public let markerPath: String
    private let metadata: RecordingMetadata
    private let clock: any WallClock
    private let core: Core

    /// Creates `<directory>/YYYY/MM/DD/<sessionID>.cast` (+ marker), writes and fsyncs the
    /// header, and starts the writer thread.
    ///
    /// - Parameters:
    ///   - queueCapacity: events the queue holds before offers are refused (at least 1).
    ///   - flushInterval: the longest an accepted event waits before write(2).
    ///   - captureStreams: on a channel without a terminal, also keep its bytes exactly in
    ///     `<id>.streams` (`recording.capture_streams`).
    /// - Throws: `.invalidSessionID`, or `.cannotCreate` when a directory, the file or its
    ///   header cannot be created (missing parent, a file in the way, disk full, duplicate ID).
    public init(
        directory: String,
        metadata: RecordingMetadata,
        queueCapacity: Int = 256,
        clock: any WallClock,
        flushInterval: Duration = .milliseconds(500),
        keys: RecordingKeys? = nil,
        captureStreams: Bool = false
    ) throws(RecordingError) {
        let writer = try RecordingFileWriter(directory: directory, metadata: metadata, keys: keys, captureStreams: captureStreams)
        self.path = writer.path
        self.markerPath = writer.markerPath
        self.metadata = metadata
        self.clock = clock
        let core = Core(capacity: queueCapacity)
        self.core = core
        let interval = Self.nanoseconds(flushInterval)
        let thread = Thread {
            core.run(writer: writer, flushIntervalNanoseconds: interval)
        }
        thread.name = "bastion-recorder"
        thread.start()
    }

    /// Dropping a recorder without `close()` still drains, fsyncs and closes the file (and
    /// removes the marker); only the summary is lost.
    deinit {
        let offset = clock.now().timeIntervalSince(metadata.startedAt)
        if case .requested(wakeWriter: true) = core.queue.withLock({ $0.requestClose(at: offset) }) {
            core.wake.signal()
        }
    }

    /// Queues bytes the target sent (stdout or stderr): `"o"`. `false` means "full, retry
    /// later", or, when `failure` is set, that the recording is dead.
    public func offerOutput(_ bytes: [UInt8]) -> Bool { offer(.output(bytes)) }

    /// Whether the channel has no terminal, so its streams are counted and hashed: the relay
    /// then hands over stderr as `errorOutput` and uncaptured input as `uncapturedInput`.
    public var countsStreams: Bool { metadata.streams }

    /// Queues bytes the engineer typed: `"i"`. Call only when input capture is on.
    public func offerInput(_ bytes: [UInt8]) -> Bool { offer(.input(bytes)) }

    /// Queues a terminal size change: `"r"` with `"COLSxROWS"`.
    public func offerResize(columns: Int, rows: Int) -> Bool { offer(.resize(columns: columns, rows: rows)) }

    /// Queues a labelled marker: `"m"`.
    public func offerMarker(_ label: String) -> Bool { offer(.marker(label)) }

    /// Queues `event`, stamped with the clock's now. Never blocks on I/O.
    public func offer(_ event: RecordingEvent) -> Bool {
        let offset = clock.now().timeIntervalSince(metadata.startedAt)
        switch core.queue.withLock({ $0.offer(event, at: offset) }) {
        case .accepted(let wake):
            if wake { core.wake.signal() }
            return true
        case .rejected:
            return false
        }
    }

    /// Why the recording stopped being written, if it did. Once set it never clears.
    public var failure: RecordingError? { core.queue.withLock { $0.failure } }

    /// Events waiting for the writer; equal to the capacity while offers are refused.
    public var queuedEvents: Int { core.queue.withLock { $0.entries.count } }

    /// Refuses further events, waits until the writer has written everything queued, fsyncs,
    /// removes the marker, and reports the file.
    ///
    /// Blocks the caller for the drain and the fsync: call it from the connection's thread or
    /// a detached one, not from the cooperative pool.
    /// - Throws: `.closed` on a second call; the write failure (`.writeFailed`) if one
    ///   happened, in which case the marker stays for the next start's recovery.
    public func close() throws(RecordingError) -> RecordingSummary {
        let offset = clock.now().timeIntervalSince(metadata.startedAt)
        switch core.queue.withLock({ $0.requestClose(at: offset) }) {
        case .alreadyClosed:
            throw RecordingError(.closed, "\(path) is already closed")
        case .requested(let wake):
            if wake { core.wake.signal() }
        }
        core.done.wait()
        guard let outcome = core.outcome.withLock({ $0 }) else {
            throw RecordingError(.closed, "\(path): writer ended without an outcome")
        }
        return try outcome.get()
    }

    /// Test hook imitating `kill -9`: stops the writer thread without writing what it has
    /// buffered and closes the descriptors (dropping the marker's lock) but leaves the marker.
    func stopWriterAsIfCrashed() {
        if core.queue.withLock({ $0.abandon() }) { core.wake.signal() }
        core.done.wait()
    }

    private static func nanoseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        let total = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        return UInt64(max(1_000_000, total))
    }
}
