import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs the same `ssh` login many times from a fixed number of concurrent clients and measures
/// wall time and the server's CPU time.
///
/// Each client is a real OpenSSH `ssh` process (new TCP connection, key exchange, certificate
/// authentication, one exec), driven from its own thread because `waitpid` blocks; the
/// cooperative pool is not for blocking calls. The clients' own CPU is not counted: the same
/// clients run against both servers.
enum LoginLoad {
    struct Measurement {
        var logins: Int
        var failures: Int
        var wallSeconds: Double
        var serverCPUSeconds: Double
        /// The stderr of the first failed login, to explain a failure count.
        var firstFailure: String?

        var loginsPerSecond: Double { Double(logins) / wallSeconds }
        var cpuSecondsPerLogin: Double { serverCPUSeconds / Double(logins) }
    }

    /// What the workers share: the next login to start and the failures so far, behind one
    /// `Mutex` (a class, because a `Mutex` cannot be captured by the threads' closures).
    private final class Progress: Sendable {
        struct State {
            var next = 0
            var failures = 0
            var firstFailure: String?
        }

        private let state = Mutex(State())
        private let count: Int

        init(count: Int) {
            self.count = count
        }

        /// Claims the next login; `false` once all `count` are claimed.
        func take() -> Bool {
            state.withLock { state in
                guard state.next < count else { return false }
                state.next += 1
                return true
            }
        }

        func fail(_ detail: String) {
            state.withLock { state in
                state.failures += 1
                if state.firstFailure == nil { state.firstFailure = detail }
            }
        }

        var snapshot: State { state.withLock { $0 } }
    }

    /// One login must succeed before the measure, so a setup mistake is one clear error and
    /// not `count` failures.
    static func probe(_ sshArguments: [String], scratch: ScratchDirectory) throws(BenchError) {
        _ = try ProcessLauncher.output(sshArguments, scratch: scratch.path)
    }

    /// Runs `count` logins, `concurrency` at a time; `serverCPU` reads the server's CPU seconds
    /// and `settle` waits until the server has accounted for the last connection.
    static func run(
        _ sshArguments: [String], count: Int, concurrency: Int, scratch: ScratchDirectory,
        serverCPU: () throws(BenchError) -> Double, settle: () throws(BenchError) -> Void
    ) throws(BenchError) -> Measurement {
        try run(spreadOver: [sshArguments], count: count, concurrency: concurrency, scratch: scratch, serverCPU: serverCPU, settle: settle)
    }

    /// The same, with the clients spread over several servers: client `i` logs in with
    /// `sshArguments[i % n]` (several nodes behind one address, without the load balancer).
    static func run(
        spreadOver sshArguments: [[String]], count: Int, concurrency: Int, scratch: ScratchDirectory,
        serverCPU: () throws(BenchError) -> Double, settle: () throws(BenchError) -> Void
    ) throws(BenchError) -> Measurement {
        let progress = Progress(count: count)
        let finished = DispatchSemaphore(value: 0)
        let workers = min(concurrency, count)
        let cpuBefore = try serverCPU()
        let start = ContinuousClock.now
        for worker in 0..<workers {
            let errorPath = scratch.file("login-\(worker).err")
            let arguments = sshArguments[worker % sshArguments.count]
            let thread = Thread {
                runLogins(arguments, errorPath: errorPath, progress: progress)
                finished.signal()
            }
            thread.name = "login-\(worker)"
            thread.start()
        }
        for _ in 0..<workers { finished.wait() }
        let wall = ContinuousClock.now - start
        try settle()
        let cpuAfter = try serverCPU()
        let outcome = progress.snapshot
        return Measurement(
            logins: count, failures: outcome.failures, wallSeconds: wall.seconds,
            serverCPUSeconds: cpuAfter - cpuBefore, firstFailure: outcome.firstFailure
        )
    }

    /// One worker: runs logins until all are claimed.
    private static func runLogins(_ arguments: [String], errorPath: String, progress: Progress) {
        while progress.take() {
            let status: Int32
            do { status = try ProcessLauncher.run(arguments, stderr: .file(errorPath)) } catch {
                progress.fail("\(error)")
                continue
            }
            guard status != 0 else { continue }
            let detail = ((try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "")
                .trimmingCharacters(in: .whitespacesAndNewlines)
            progress.fail("exit \(status): \(detail)")
        }
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number for rates.
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
