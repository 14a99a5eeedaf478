import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization

/// `WatchdogSec`: a thread of its own sends `WATCHDOG=1` every half period while the store
/// answers and the SSH admission loop goes round, and `STATUS=` with the open connections.
/// When either check fails it stays silent, and systemd restarts bastiond at the period's end:
/// a bastion that accepts nobody, or cannot audit, is better restarted than left looking up.
/// A thread, not a task: a wedged cooperative pool must not keep the pings going either way.
public struct SystemdWatchdog: Service {
    let systemd: SystemdNotifier
    let interval: Double
    let checks: @Sendable () -> (healthy: Bool, status: String)
    let logger: Logger

    /// - Parameters:
    ///   - interval: `WatchdogSec` in seconds; pings go every half of it.
    ///   - checks: whether this bastiond is alive, and the `STATUS=` text.
    public init(systemd: SystemdNotifier, interval: Double, logger: Logger, checks: @escaping @Sendable () -> (healthy: Bool, status: String)) {
        self.systemd = systemd
        self.interval = interval
        self.checks = checks
        self.logger = logger
    }

    public func run() async throws {
        let (stop, done) = (Flag(), Flag())
        let thread = Thread { [self] in
            pingLoop(until: { stop.isSet })
            done.set()
        }
        thread.name = "systemd-watchdog"
        thread.start()
        try? await gracefulShutdown()
        stop.set()
        while !done.isSet { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// Pings every half interval while `checks` passes, on the calling thread, until
    /// `shouldStop` says so (checked every 50 ms).
    public func pingLoop(until shouldStop: @Sendable () -> Bool) {
        var wasHealthy = true
        while !shouldStop() {
            let (healthy, status) = checks()
            if healthy {
                systemd.send(["WATCHDOG=1", "STATUS=\(status)"])
            } else if wasHealthy {
                logger.critical("watchdog check failed: not telling systemd this bastiond is alive", metadata: ["status": "\(status)"])
            }
            wasHealthy = healthy
            let deadline = Date().addingTimeInterval(interval / 2)
            while !shouldStop(), Date() < deadline { usleep(50_000) }
        }
    }
}

/// A flag one thread sets and another reads.
private final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
}
