import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A pipe whose two ends are close-on-exec in this process: a child gets an end only as one
/// of its standard streams (`ProcessLauncher.Stream.descriptor`), never by inheritance, so a
/// reader sees EOF as soon as the writers it meant to have are gone.
final class BenchPipe {
    private(set) var readEnd: Int32
    private(set) var writeEnd: Int32

    init() throws(BenchError) {
        var ends: [Int32] = [-1, -1]
        // pipe2(O_CLOEXEC) is not visible to Swift (_GNU_SOURCE); no other thread spawns
        // while the benchmark makes its pipes, so setting the flag next is as good.
        guard pipe(&ends) == 0 else { throw BenchError("pipe: \(String(cString: strerror(errno)))") }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        readEnd = ends[0]
        writeEnd = ends[1]
    }

    func closeRead() {
        if readEnd >= 0 { close(readEnd) }
        readEnd = -1
    }

    func closeWrite() {
        if writeEnd >= 0 { close(writeEnd) }
        writeEnd = -1
    }

    deinit {
        closeRead()
        closeWrite()
    }

    /// Waits up to `timeout` for the read end to be readable; false on timeout.
    func waitReadable(timeout: Duration) -> Bool {
        var descriptor = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(max(0, min(Double(Int32.max), timeout.seconds * 1000)).rounded(.up))
        while true {
            let ready = poll(&descriptor, 1, milliseconds)
            if ready < 0, errno == EINTR { continue }
            return ready > 0
        }
    }
}

/// Children started by the relay benchmark, waited for with a deadline and killed by PID.
enum ChildProcess {
    /// Waits for `pid` until `deadline`; on timeout kills it (SIGKILL), reaps it and returns nil.
    static func wait(_ pid: pid_t, until deadline: ContinuousClock.Instant) -> Int32? {
        while ContinuousClock.now < deadline {
            if let status = ProcessLauncher.poll(pid) { return status }
            usleep(5_000)
        }
        kill(pid, SIGKILL)
        _ = ProcessLauncher.wait(pid)
        return nil
    }

    /// SIGTERM to each, then SIGKILL to those still there after `grace`; reaps them all.
    static func stopAll(_ pids: [pid_t], grace: Duration = .seconds(3)) {
        for pid in pids { kill(pid, SIGTERM) }
        let deadline = ContinuousClock.now + grace
        var left = pids
        while !left.isEmpty, ContinuousClock.now < deadline {
            left = left.filter { ProcessLauncher.poll($0) == nil }
            if !left.isEmpty { usleep(10_000) }
        }
        for pid in left {
            kill(pid, SIGKILL)
            _ = ProcessLauncher.wait(pid)
        }
    }

    /// A file's text, trimmed; empty when it cannot be read.
    static func text(_ path: String) -> String {
        ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// VmRSS of `pid` in KiB (proc(5)).
    static func residentKiB(_ pid: pid_t) throws(BenchError) -> Int {
        try statusField("VmRSS", of: pid)
    }

    /// Threads of `pid`.
    static func threads(_ pid: pid_t) throws(BenchError) -> Int {
        try statusField("Threads", of: pid)
    }

    private static func statusField(_ name: String, of pid: pid_t) throws(BenchError) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
              let value = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.flatMap({ Int($0) })
        else {
            throw BenchError("no \(name) in /proc/\(pid)/status")
        }
        return value
    }
}
