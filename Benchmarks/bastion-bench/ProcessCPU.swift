import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// CPU time of a process from `/proc/PID/stat` (proc(5)), in seconds.
///
/// bastiond serves every connection on a thread of its one process, so its own
/// utime + stime is the whole cost. sshd forks (and re-execs) a child per connection; a
/// child's time reaches the listener's cutime + cstime only once the listener reaps it,
/// so `settle` waits for the children to be gone before the final reading.
enum ProcessCPU {
    /// Which of the four time fields to add up.
    enum Scope {
        /// utime + stime (fields 14, 15).
        case selfOnly
        /// utime + stime + cutime + cstime (fields 14–17): the process and its reaped children.
        case includingReapedChildren
    }

    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    static func seconds(of pid: pid_t, _ scope: Scope) throws(BenchError) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let closing = stat.lastIndex(of: ")")
        else {
            throw BenchError("cannot read /proc/\(pid)/stat")
        }
        // The command name (field 2) may hold spaces and parentheses, so count fields from
        // the last ')': the word after it is field 3.
        let fields = stat[stat.index(after: closing)...].split(separator: " ")
        func field(_ number: Int) throws(BenchError) -> Double {
            let index = number - 3
            guard index < fields.count, let value = Double(fields[index]) else {
                throw BenchError("unexpected /proc/\(pid)/stat: field \(number) missing")
            }
            return value
        }
        var ticks = try field(14) + field(15)
        if case .includingReapedChildren = scope { ticks += try field(16) + field(17) }
        return ticks / ticksPerSecond
    }

    /// Waits (at most `timeout`) until `pid` has no children left, so that their CPU time has
    /// been added to its cutime/cstime. Without `/proc/PID/task/PID/children` (a kernel option)
    /// it waits one second instead.
    static func settle(_ pid: pid_t, timeout: Duration = .seconds(5)) {
        let path = "/proc/\(pid)/task/\(pid)/children"
        guard FileManager.default.fileExists(atPath: path) else {
            usleep(1_000_000)
            return
        }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let children = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            if children.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return }
            usleep(10_000)
        }
    }
}
