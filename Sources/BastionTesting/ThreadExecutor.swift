import Foundation
import Synchronization

/// A task executor with one thread of its own, for an in-process bastiond.
///
/// Tasks started with it as their preference (and their child tasks: HTTP handlers, services)
/// run there instead of on the cooperative pool the whole test process shares, so the daemon
/// answers as it would alone in its process, whatever blocking work other tests do. The
/// thread waits for jobs for as long as the process lives: a job that arrives late (a
/// cancellation after the daemon stopped) still runs.
public final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    /// The executor's thread, once it has started (Foundation's `Thread.name` does not reach
    /// the OS thread on Linux, so identity is how a test tells where it runs).
    private let thread = Mutex<Thread?>(nil)

    public init() {
        let thread = Thread { [unowned self] in self.runJobs() }
        thread.start()
    }

    /// True when called on the executor's thread.
    public var isCurrentThread: Bool {
        thread.withLock { $0 } === Thread.current
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func runJobs() {
        thread.withLock { $0 = Thread.current }
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
