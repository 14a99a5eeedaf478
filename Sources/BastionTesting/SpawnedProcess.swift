public import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A child started by ``ChildSpawner``, watched and reaped by its PID alone (no monitor
/// thread shared with other children, so one long-lived child never delays news of another).
public final class SpawnedProcess: Sendable {
    public let pid: pid_t
    /// The exit status once reaped; a death by signal is 128 + the signal, as a shell reports it.
    private let status = Mutex<Int32?>(nil)

    public init(
        _ arguments: [String], environment: [String: String]? = nil, currentDirectory: String? = nil,
        stdin: ChildSpawner.Stream = .null, stdout: ChildSpawner.Stream = .null, stderr: ChildSpawner.Stream = .null
    ) throws {
        pid = try ChildSpawner.spawn(
            arguments, environment: environment, currentDirectory: currentDirectory, stdin: stdin, stdout: stdout, stderr: stderr
        )
    }

    /// Starts `executable` (a path, or a name looked up in PATH) with `arguments`.
    public convenience init(
        executable: String, _ arguments: [String], environment: [String: String]? = nil, currentDirectory: String? = nil,
        stdin: ChildSpawner.Stream = .null, stdout: ChildSpawner.Stream = .null, stderr: ChildSpawner.Stream = .null
    ) throws {
        let path = executable.hasPrefix("/") ? executable : try ProcessRunner.locate(executable)
        try self.init(
            [path] + arguments, environment: environment, currentDirectory: currentDirectory, stdin: stdin, stdout: stdout, stderr: stderr
        )
    }

    deinit {
        // A child nobody waited for: stop it, and reap it so it does not linger as a zombie.
        if isRunning {
            kill(pid, SIGKILL)
            var raw: Int32 = 0
            _ = waitpid(pid, &raw, 0)
        }
    }

    /// Whether the child is still running (reaps it when it has ended).
    public var isRunning: Bool { exitStatus == nil }

    /// The exit status once the child has ended, else nil; a death by signal is 128 + the signal.
    public var exitStatus: Int32? {
        status.withLock { status in
            if status == nil { status = reap() }
            return status
        }
    }

    /// Sends `signal` unless the child has already ended (and been reaped: its PID may be reused).
    public func signal(_ signal: Int32) {
        status.withLock { status in
            if status == nil { status = reap() }
            if status == nil { kill(pid, signal) }
        }
    }

    /// The child's status if it has ended (reaping it), else nil. -1 when it was reaped by
    /// someone else (nothing here waits for any child but its own, so this is a defect).
    private func reap() -> Int32? {
        var raw: Int32 = 0
        let result = waitpid(pid, &raw, WNOHANG)
        if result < 0 { return errno == ECHILD ? -1 : nil }
        guard result == pid else { return nil }
        return ChildSpawner.shellStatus(raw)
    }

    /// Waits up to `timeout` for the child to end, politely (off the cooperative pool's threads).
    public func waitForExit(timeout: TimeInterval) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while isRunning {
            if Date() > deadline { return false }
            try await Task.sleep(for: .milliseconds(20))
        }
        return true
    }

    /// Blocks until the child ends, killing it at `deadline`; returns whether it was killed.
    /// For threads of their own, never Swift's cooperative pool.
    public func waitBlocking(killingAt deadline: Date) -> Bool {
        var killed = false
        while isRunning {
            if !killed, Date() > deadline {
                signal(SIGKILL)
                killed = true
            }
            usleep(killed ? 1_000 : 5_000)
        }
        return killed
    }
}
