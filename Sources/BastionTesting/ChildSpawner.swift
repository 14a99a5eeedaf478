public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts long-lived helper daemons (sshd, tmux) with `posix_spawn`, not `Foundation.Process`.
///
/// Such daemons close every inherited descriptor at start, which closes the socket Foundation
/// watches to learn that a child exited; Foundation then blocks its one process-monitor
/// thread in `waitpid` on them, and every other `Process` in the test run hangs. Children
/// get stdin from /dev/null, stdout and stderr to `output` (or /dev/null), no other
/// inherited descriptor, default signal dispositions and an empty signal mask (the spawning
/// thread may block or ignore signals: dispatch threads do, libssh ignores SIGPIPE).
public enum ChildSpawner {
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32

    public struct SpawnError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Starts `arguments[0]` (an absolute path); the caller stops and reaps it by PID.
    public static func spawn(_ arguments: [String], output: String? = nil) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let output {
            posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // glibc's posix_spawn_file_actions_addclosefrom_np is behind _GNU_SOURCE, which the
        // Swift Glibc module does not define: look it up at run time.
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        } else {
            for fd in Int32(3)..<Int32(1024) { posix_spawn_file_actions_addclose(&actions, fd) }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGWINCH, SIGQUIT, SIGUSR1, SIGUSR2] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environ)
        guard result == 0 else { throw SpawnError(description: "posix_spawn \(arguments[0]): \(String(cString: strerror(result)))") }
        return pid
    }

    /// Whether `pid` has exited (and reaps it).
    public static func hasExited(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        let result = waitpid(pid, &status, WNOHANG)
        return result == pid || (result < 0 && errno == ECHILD)
    }

    /// The exit status of `pid` once it has exited (and reaps it), else nil; a child killed
    /// by a signal reports 128 + the signal, as a shell would.
    public static func exitStatus(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    /// SIGTERM, then SIGKILL after 3 s; reaps the child either way.
    public static func terminate(_ pid: pid_t) {
        guard !hasExited(pid) else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(3)
        while Date() < deadline {
            if hasExited(pid) { return }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
    }
}
