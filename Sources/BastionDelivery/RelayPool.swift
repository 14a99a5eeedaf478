import BastionCore
public import Foundation
public import Logging
import Synchronization

/// The running relays, one thread each, by sink name: started at boot and, on a reload,
/// stopped and started one by one (a sink whose definition changed is stopped before its
/// successor starts, so two relays never share a cursor).
///
/// A relay's position lives in the outbox under the sink's name, so a sink redefined in
/// place resumes where it stopped, and a removed one keeps its cursor should it return.
public final class RelayPool: Sendable {
    private final class Running: Sendable {
        let relay: SinkRelay
        let stop = Atomic<Bool>(false)
        let finished = Atomic<Bool>(false)
        init(relay: SinkRelay) { self.relay = relay }
    }

    private let running = Mutex<[String: Running]>([:])
    private let onStep: @Sendable (SinkRelay.Step, String) -> Void
    private let logger: Logger

    /// - Parameter onStep: told each relay step with the sink's name (metrics, warnings).
    public init(logger: Logger, onStep: @escaping @Sendable (SinkRelay.Step, String) -> Void = { _, _ in }) {
        self.logger = logger
        self.onStep = onStep
    }

    /// The relays running now, by sink name.
    public var relays: [SinkRelay] { running.withLock { $0.values.map(\.relay) }.sorted { $0.sink.name < $1.sink.name } }

    /// Starts `relay` on a thread of its own, after stopping any relay of the same sink.
    public func start(_ relay: SinkRelay) {
        let name = relay.sink.name
        stop(names: [name])
        let entry = Running(relay: relay)
        running.withLock { $0[name] = entry }
        let (onStep, logger) = (onStep, logger)
        let thread = Thread {
            relay.run(shouldStop: { entry.stop.load(ordering: .acquiring) }, onStep: { onStep($0, name) }) { error in
                logger.error("SIEM sink \(name): \(error)")
            }
            entry.finished.store(true, ordering: .releasing)
        }
        thread.name = "siem-\(name)"
        thread.start()
    }

    /// Stops the relays of `names` and waits up to `timeout` for each to finish its current
    /// send (the cursor moves only after a send, so a stop loses nothing).
    public func stop(names: [String], timeout: TimeInterval = 10) {
        let stopping = running.withLock { running in names.compactMap { running.removeValue(forKey: $0) } }
        for entry in stopping { entry.stop.store(true, ordering: .releasing) }
        let deadline = Date().addingTimeInterval(timeout)
        for entry in stopping {
            while !entry.finished.load(ordering: .acquiring), Date() < deadline { usleep(20_000) }
            if !entry.finished.load(ordering: .acquiring) { logger.warning("SIEM sink \(entry.relay.sink.name) did not stop within \(timeout) s") }
        }
    }

    /// Stops every relay (shutdown).
    public func stopAll(timeout: TimeInterval) {
        stop(names: running.withLock { Array($0.keys) }, timeout: timeout)
    }
}
