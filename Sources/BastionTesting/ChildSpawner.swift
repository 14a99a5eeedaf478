public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts the programs the tests run (sshd, ssh, bastiond, …) with `posix_spawn`, not
/// `Foundation.Process`.
///
/// Foundation learns that a child exited when a socket the child inherited closes, and then
/// waits for it in `waitpid` on its one process-monitor thread. Programs that close every
/// inherited descriptor at start (sshd, and `ssh` itself: OpenSSH's `closefrom`) close that
/// socket at once, so the monitor thread blocks until they exit and every other `Process` in
/// the test run looks alive meanwhile (a bastiond stopped in 50 ms looked alive for 10 s in
/// CI while a long `ssh` ran). Children get only the descriptors asked for, default signal
/// dispositions and an empty signal mask (the spawning thread may block or ignore signals:
/// dispatch threads do, libssh ignores SIGPIPE); ``SpawnedProcess`` reaps them by PID.
public enum ChildSpawner {
    public struct SpawnError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Where one of a child's standard streams goes.
    public enum Stream: Sendable {
        /// /dev/null.
        case null
        /// A file, created if missing (mode 0600) and truncated or appended to.
        case file(String, append: Bool = false)
        /// A descriptor of ours (a pipe's end), duplicated onto the stream.
        case descriptor(Int32)
        /// Standard error only: wherever standard output goes.
        case standardOutput
    }

    /// Starts `arguments[0]` (an absolute path); the caller stops and reaps it by PID.
    /// Standard output and standard error both go to `output` (truncated) or /dev/null.
    public static func spawn(_ arguments: [String], output: String? = nil) throws -> pid_t {
        try spawn(arguments, stdout: output.map { .file($0) } ?? .null, stderr: .standardOutput)
    }

    /// Starts `arguments[0]` (an absolute path) with the given streams, `environment` (ours
    /// when nil) and working directory; the caller reaps it by PID (``SpawnedProcess`` does).
    public static func spawn(
        _ arguments: [String], environment: [String: String]? = nil, currentDirectory: String? = nil,
        stdin: Stream = .null, stdout: Stream = .null, stderr: Stream = .null
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (fd, stream) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            switch stream {
            case .null:
                posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
            case .file(let path, let append):
                posix_spawn_file_actions_addopen(&actions, fd, path, O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0o600)
            case .descriptor(let source):
                posix_spawn_file_actions_adddup2(&actions, source, fd)
            case .standardOutput:
                posix_spawn_file_actions_adddup2(&actions, 1, fd)
            }
        }
        // glibc's posix_spawn_file_actions_addclosefrom_np and _addchdir_np are behind
        // _GNU_SOURCE, which the Swift Glibc module does not define: look them up at run time.
        if let closeFrom = GNU.closeFrom {
            _ = closeFrom(&actions, 3)
        } else {
            for fd in Int32(3)..<Int32(1024) { posix_spawn_file_actions_addclose(&actions, fd) }
        }
        if let currentDirectory {
            guard let changeDirectory = GNU.changeDirectory else {
                throw SpawnError(description: "posix_spawn_file_actions_addchdir_np is missing (glibc 2.29 or later is needed)")
            }
            _ = changeDirectory(&actions, currentDirectory)
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
        let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { for variable in envp ?? [] { free(variable) } }
        var pid: pid_t = 0
        let result = envp.map { posix_spawn(&pid, arguments[0], &actions, &attributes, argv, $0) }
            ?? posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environ)
        guard result == 0 else { throw SpawnError(description: "posix_spawn \(arguments[0]): \(String(cString: strerror(result)))") }
        return pid
    }

    /// A pipe whose two ends close on exec, so that no other child started meanwhile (by
    /// another test) holds an end open; the child gets its end through a dup2, which clears it.
    public static func pipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard let pipe2 = GNU.pipe2 else {
            throw SpawnError(description: "pipe2 is missing")
        }
        guard pipe2(&fds, O_CLOEXEC) == 0 else { throw SpawnError(description: "pipe2: \(String(cString: strerror(errno)))") }
        return (fds[0], fds[1])
    }

    /// glibc functions the Swift Glibc module does not declare, found at run time.
    private enum GNU {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
        typealias ChangeDirectory = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, UnsafePointer<CChar>?) -> Int32
        typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32

        static let closeFrom = symbol("posix_spawn_file_actions_addclosefrom_np", as: CloseFrom.self)
        static let changeDirectory = symbol("posix_spawn_file_actions_addchdir_np", as: ChangeDirectory.self)
        static let pipe2 = symbol("pipe2", as: Pipe2.self)

        private static func symbol<T>(_ name: String, as type: T.Type) -> T? {
            dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: type) }
        }
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
        return shellStatus(status)
    }

    /// A `waitpid` status as a shell reports it: the exit status, or 128 + the signal.
    static func shellStatus(_ raw: Int32) -> Int32 {
        let signal = raw & 0x7F
        return signal == 0 ? (raw >> 8) & 0xFF : 128 + signal
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
