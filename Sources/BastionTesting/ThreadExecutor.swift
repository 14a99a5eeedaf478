import Foundation

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

    public init(name: String) {
        let thread = Thread { [unowned self] in self.runJobs() }
        thread.name = name
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func runJobs() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
