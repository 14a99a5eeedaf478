import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// `WatchdogSec`: a thread of its own sends `WATCHDOG=1` every half period while the store
/// answers and the SSH admission loop goes round, and `STATUS=` with the open connections.
/// When either check fails it stays silent, and systemd restarts bastiond at the period's end:
/// a bastion that accepts nobody, or cannot audit, is better restarted than left looking up.
/// A thread, not a task: a wedged cooperative pool must not keep the pings going either way.
struct SystemdWatchdog: Service {
    let systemd: SystemdNotifier
    let interval: Double
    let checks: @Sendable () -> (healthy: Bool, status: String)
    let logger: Logger

    func run() async throws {
        let stop = Atomic<Bool>(false)
        let done = Atomic<Bool>(false)
        let (systemd, interval, checks, logger) = (systemd, interval, checks, logger)
        let thread = Thread {
            var wasHealthy = true
            while !stop.load(ordering: .relaxed) {
                let (healthy, status) = checks()
                if healthy {
                    systemd.send(["WATCHDOG=1", "STATUS=\(status)"])
                } else if wasHealthy {
                    logger.critical("watchdog check failed: not telling systemd this bastiond is alive", metadata: ["status": "\(status)"])
                }
                wasHealthy = healthy
                let deadline = Date().addingTimeInterval(interval / 2)
                while !stop.load(ordering: .relaxed), Date() < deadline { usleep(50_000) }
            }
            done.store(true, ordering: .releasing)
        }
        thread.name = "systemd-watchdog"
        thread.start()
        try? await gracefulShutdown()
        stop.store(true, ordering: .relaxed)
        while !done.load(ordering: .acquiring) { try? await Task.sleep(for: .milliseconds(20)) }
    }
}
