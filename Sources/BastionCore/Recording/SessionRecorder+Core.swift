import Dispatch
import Synchronization

extension SessionRecorder {
    /// What the relay and the writer thread share; the thread holds this, not the recorder,
    /// so a recorder dropped without `close()` is still deinitialised.
    final class Core: Sendable {
        let queue: Mutex<RecordingQueue>
        /// Signalled when the writer is asleep and has something to do.
        let wake = DispatchSemaphore(value: 0)
        /// Signalled once, when the writer thread ends.
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<RecordingSummary, RecordingError>?>(nil)

        /// Flush when this much is pending, whatever the time.
        static let flushBytes = 64 * 1024

        init(capacity: Int) {
            queue = Mutex(RecordingQueue(capacity: capacity))
        }

        /// The writer thread's loop.
        func run(writer initial: RecordingFileWriter, flushIntervalNanoseconds: UInt64) {
            var writer = initial
            var flushDeadline: DispatchTime?
            var failed = false

            func flush() {
                flushDeadline = nil
                guard !failed else { return }
                do throws(RecordingError) {
                    try writer.flush()
                } catch {
                    failed = true
                    queue.withLock { $0.fail(error) }
                }
            }

            while true {
                switch queue.withLock({ $0.take() }) {
                case .write(let batch):
                    guard !failed else { continue }
                    for entry in batch { writer.append(entry) }
                    if writer.pendingBytes > 0, flushDeadline == nil {
                        flushDeadline = .now() + .nanoseconds(Int(flushIntervalNanoseconds))
                    }
                    if writer.pendingBytes >= Self.flushBytes || flushDeadline.map({ .now() >= $0 }) == true {
                        flush()
                    }
                case .wait:
                    _ = wake.wait(timeout: flushDeadline ?? .distantFuture)
                    queue.withLock { $0.writerWoke() }
                    if let deadline = flushDeadline, .now() >= deadline { flush() }
                case .finish(let duration):
                    let result: Result<RecordingSummary, RecordingError>
                    if let failure = queue.withLock({ $0.failure }) {
                        writer.closeKeepingMarker()
                        result = .failure(failure)
                    } else {
                        result = writer.finish(duration: duration)
                        if case .failure(let error) = result { queue.withLock { $0.fail(error) } }
                    }
                    outcome.withLock { $0 = result }
                    done.signal()
                    return
                case .abandon:
                    writer.closeKeepingMarker()
                    done.signal()
                    return
                }
            }
        }
    }
}
