import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts programs with `posix_spawn` and waits for them by PID.
///
/// Not Foundation's `Process`: the load generator starts hundreds of short `ssh` clients from
/// several threads and must know each PID to reap it, and the daemons must be stoppable by
/// PID from a `defer`. Children get an empty signal mask and default dispositions, so a
/// signal the Swift runtime blocks or ignores in this process (SIGPIPE, SIGTERM) still
/// reaches them.
enum ProcessLauncher {
    /// Where one of the child's standard streams goes.
    enum Stream {
        case null
        /// For stdout/stderr created or truncated, 0600; for stdin read as it is.
        case file(String)
        /// An open descriptor of this process (a pipe end), duplicated onto the child's stream.
        case descriptor(Int32)
    }

    /// Starts `arguments[0]` (looked up in PATH when it has no slash) and returns its PID.
    static func spawn(
        _ arguments: [String], environment: [String: String] = [:], stdin: Stream = .null, stdout: Stream = .null,
        stderr: Stream = .null
    ) throws(BenchError) -> pid_t {
        precondition(!arguments.isEmpty, "no program to run")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (fd, stream) in [(Int32(0), stdin), (Int32(1), stdout), (Int32(2), stderr)] {
            let flags = fd == 0 ? O_RDONLY : O_WRONLY
            switch stream {
            case .null: posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", flags, 0)
            case .file(let path):
                // Read as it is for stdin; created or truncated for stdout and stderr.
                posix_spawn_file_actions_addopen(&actions, fd, path, fd == 0 ? flags : flags | O_CREAT | O_TRUNC, 0o600)
            // dup2 clears close-on-exec on the copy, so pipes made with O_CLOEXEC reach only this child.
            case .descriptor(let source): posix_spawn_file_actions_adddup2(&actions, source, fd)
            }
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var merged = ProcessInfo.processInfo.environment
        merged.merge(environment) { _, new in new }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw BenchError("cannot start \(arguments[0]): \(String(cString: strerror(result)))")
        }
        return pid
    }

    /// Blocks until `pid` exits; its exit code, or 128 + the signal that killed it.
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return decode(status)
    }

    /// The exit status of `pid` if it has exited (and reaps it), `nil` while it runs.
    static func poll(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == 0 { return nil }
        return result == pid ? decode(status) : -1
    }

    /// Runs a program to completion; its exit status.
    @discardableResult
    static func run(
        _ arguments: [String], environment: [String: String] = [:], stdout: Stream = .null, stderr: Stream = .null
    ) throws(BenchError) -> Int32 {
        wait(try spawn(arguments, environment: environment, stdout: stdout, stderr: stderr))
    }

    /// Runs a program that must succeed; its standard output. `scratch` holds the capture files.
    @discardableResult
    static func output(_ arguments: [String], environment: [String: String] = [:], scratch: String) throws(BenchError) -> String {
        let name = (arguments[0] as NSString).lastPathComponent
        let outPath = scratch + "/\(name)-\(UUID().uuidString).out"
        let errPath = outPath + ".err"
        defer {
            unlink(outPath)
            unlink(errPath)
        }
        let status = try run(arguments, environment: environment, stdout: .file(outPath), stderr: .file(errPath))
        let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        guard status == 0 else {
            let errors = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
            throw BenchError("\(arguments.joined(separator: " ")) exited with \(status): \(errors.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return output
    }

    /// `waitpid` status → exit code, or 128 + signal (the shell's convention).
    private static func decode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}
