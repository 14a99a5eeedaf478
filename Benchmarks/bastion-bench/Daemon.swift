import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A long-running child (bastiond, sshd) with its stderr in a log file, stopped by PID.
///
/// Owned by one thread (the benchmark's main flow), so it needs no lock. Callers `defer`
/// `stop()` right after `start`, so the process never outlives a failed run.
final class Daemon {
    let name: String
    let pid: pid_t
    let logPath: String
    private var exitStatus: Int32?

    private init(name: String, pid: pid_t, logPath: String) {
        self.name = name
        self.pid = pid
        self.logPath = logPath
    }

    static func start(name: String, _ arguments: [String], logPath: String) throws(BenchError) -> Daemon {
        let pid = try ProcessLauncher.spawn(arguments, stdout: .file(logPath + ".stdout"), stderr: .file(logPath))
        return Daemon(name: name, pid: pid, logPath: logPath)
    }

    /// Whether the process is still running (reaps it if it exited).
    var isRunning: Bool {
        if exitStatus == nil { exitStatus = ProcessLauncher.poll(pid) }
        return exitStatus == nil
    }

    /// Waits until an SSH server answers on 127.0.0.1:`port`; fails fast if the process dies.
    func waitUntilListening(on port: Int, timeout: Duration = .seconds(20)) throws(BenchError) {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            guard isRunning else {
                throw BenchError("\(name) exited with status \(exitStatus ?? -1) before listening on \(port)\n\(logTail())")
            }
            if LoopbackPort.answersSSH(port) { return }
            usleep(20_000)
        }
        throw BenchError("\(name) did not listen on 127.0.0.1:\(port) within \(timeout)\n\(logTail())")
    }

    /// SIGTERM, up to five seconds for a graceful exit, then SIGKILL. Idempotent.
    /// - Returns: `false` when SIGKILL was needed (worth reporting: shutdown should be graceful).
    @discardableResult
    func stop() -> Bool {
        guard isRunning else { return true }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline {
            if !isRunning { return true }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        exitStatus = ProcessLauncher.wait(pid)
        return false
    }

    /// The log's non-empty lines.
    func logLines() -> [String] {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
    }

    /// The last lines of the log, indented, for an error message.
    func logTail(_ count: Int = 15) -> String {
        let lines = logLines().suffix(count)
        return lines.isEmpty ? "  (\(logPath) is empty)" : lines.map { "  " + $0 }.joined(separator: "\n")
    }
}
