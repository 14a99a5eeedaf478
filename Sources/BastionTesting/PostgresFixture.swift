public import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A real PostgreSQL server of the test's own: `initdb` into a temp directory, the postmaster
/// on a free 127.0.0.1 port (testing-with-real-programs.md), stopped by PID.
///
/// PostgreSQL refuses to run as root; as root the fixture hands its directory to the
/// `postgres` user (Debian's package creates it) and starts the server through `setpriv`,
/// which execs, so the PID held is the postmaster's own. Authentication is `trust` on
/// loopback for the one role `bastion`. ``stop()`` is a fast shutdown (SIGINT: clients are
/// disconnected, data is flushed); ``start()`` brings it back on the same port and data, for
/// outage tests. Most tests share one server per test process (``shared()``), each with a
/// database of its own (``createDatabase()``); a watchdog stops that server if the test
/// process dies without running its exit handlers.
public final class PostgresFixture: Sendable {
    public let port: Int
    /// The data directory and the server's log live here (owned by `postgres` when root).
    public let directory: String
    public let logPath: String
    private let binaries: String
    private let durable: Bool
    private let pid = Mutex<pid_t?>(nil)

    /// Runs `initdb` and starts the server. Blocks for a few seconds: from async code use ``launch()``.
    /// - Parameter durable: PostgreSQL's own defaults (fsync at every commit), for benchmarks;
    ///   tests run without fsync, which changes no result and saves the disk.
    public init(durable: Bool = false) throws {
        self.durable = durable
        binaries = try Self.binaryDirectory()
        var template = Array((NSTemporaryDirectory() + "/bastion-pg-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw SSHDFixture.FixtureError("mkdtemp failed: errno \(errno)") }
        directory = String(cString: made)
        logPath = directory + "/postgres.log"
        let account = try Self.serverAccount()
        if let account { chown(directory, account.uid, account.gid) }
        let initdb = try Self.runAs(
            account,
            [binaries + "/initdb", "-D", directory + "/data", "-A", "trust", "-U", "bastion", "--no-sync", "-E", "UTF8", "--locale=C"]
        )
        guard initdb.status == 0 else {
            try? FileManager.default.removeItem(atPath: directory)
            throw SSHDFixture.FixtureError("initdb failed: \(initdb)")
        }
        var lastFailure = "postgres did not start"
        for _ in 0..<5 {
            let candidate = try SSHDFixture.freePort()
            do {
                let child = try Self.launch(
                    binaries: binaries, account: account, directory: directory, logPath: logPath, port: candidate, durable: durable
                )
                pid.withLock { $0 = child }
                port = candidate
                return
            } catch let failure as SSHDFixture.FixtureError {
                lastFailure = failure.description
                // Another process took the port between our probe and the server's bind.
                if failure.description.contains("in use") { continue }
                break
            }
        }
        try? FileManager.default.removeItem(atPath: directory)
        throw SSHDFixture.FixtureError(lastFailure)
    }

    /// ``init(durable:)`` on a thread of its own, off the cooperative pool.
    public static func launch(durable: Bool = false) async throws -> PostgresFixture {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try PostgresFixture(durable: durable) }) }.start()
        }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `postgres://bastion@127.0.0.1:PORT/DATABASE`, the form `storage.url` takes.
    public func url(database: String) -> String {
        "postgres://bastion@127.0.0.1:\(port)/\(database)"
    }

    /// Creates an empty database with a fresh name and returns its URL. Blocking.
    public func createDatabase() throws -> String {
        let name = "t" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        let result = try psql("CREATE DATABASE \(name)")
        guard result.status == 0 else { throw SSHDFixture.FixtureError("CREATE DATABASE failed: \(result)") }
        return url(database: name)
    }

    /// Runs one SQL command with `psql` as `bastion` (tests inspect or tamper with tables).
    public func psql(_ sql: String, database: String = "postgres") throws -> ProcessRunner.Result {
        try ProcessRunner.runBlocking(
            binaries + "/psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", String(port), "-U", "bastion", "-d", database, "-c", sql],
            timeout: 60
        )
    }

    /// Fast shutdown: SIGINT, then SIGKILL if it has not exited after 20 s. Idempotent.
    public func stop() {
        guard let child = pid.withLock({ current -> pid_t? in
            defer { current = nil }
            return current
        }) else { return }
        kill(child, SIGINT)
        let deadline = Date().addingTimeInterval(20)
        while !ChildSpawner.hasExited(child) {
            if Date() > deadline {
                kill(child, SIGKILL)
                _ = ChildSpawner.exitStatus(child)
                return
            }
            usleep(20_000)
        }
    }

    /// Starts the server again after ``stop()``, on the same port and data. Blocking.
    public func start() throws {
        guard pid.withLock({ $0 }) == nil else { return }
        let child = try Self.launch(
            binaries: binaries, account: try Self.serverAccount(), directory: directory, logPath: logPath, port: port, durable: durable
        )
        pid.withLock { $0 = child }
    }

    /// The postmaster's PID while it runs.
    public var processID: pid_t? { pid.withLock { $0 } }

    // MARK: - One server per test process

    private static let sharedFixture = Mutex<PostgresFixture?>(nil)

    /// The test process's shared server, started on first use and stopped when the process
    /// exits (`atexit`), or by a watchdog if the process dies first. Blocking.
    public static func shared() throws -> PostgresFixture {
        try sharedFixture.withLock { current in
            if let current { return current }
            let fixture = try PostgresFixture()
            current = fixture
            atexit { PostgresFixture.sharedFixture.withLock { $0?.stop() } }
            try? fixture.startWatchdog()
            return fixture
        }
    }

    /// A shell that waits for this process to end and then stops the server (a crashed test
    /// run must not leave a postmaster behind).
    private func startWatchdog() throws {
        guard let child = processID else { return }
        let script = """
            while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done
            if [ -f '\(directory)/data/postmaster.pid' ] && kill -0 \(child) 2>/dev/null; then kill -INT \(child); sleep 10; kill -KILL \(child) 2>/dev/null; fi
            rm -rf '\(directory)'
            """
        _ = try ChildSpawner.spawn(["/bin/sh", "-c", script])
    }

    // MARK: - Helpers

    private struct Account {
        let uid: uid_t
        let gid: gid_t
    }

    /// `postgres` when running as root (PostgreSQL will not run as root), else nil: ourselves.
    private static func serverAccount() throws -> Account? {
        guard getuid() == 0 else { return nil }
        guard let entry = getpwnam("postgres") else {
            throw SSHDFixture.FixtureError("no user postgres to run PostgreSQL as (install Debian's postgresql: see the Makefile)")
        }
        return Account(uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
    }

    private static func runAs(_ account: Account?, _ arguments: [String]) throws -> ProcessRunner.Result {
        let command = asAccount(account, arguments)
        return try ProcessRunner.runBlocking(command[0], Array(command.dropFirst()), timeout: 120)
    }

    private static func asAccount(_ account: Account?, _ arguments: [String]) -> [String] {
        guard let account else { return arguments }
        return ["/usr/bin/setpriv", "--reuid=\(account.uid)", "--regid=\(account.gid)", "--clear-groups"] + arguments
    }

    /// Debian keeps the server programs in /usr/lib/postgresql/VERSION/bin, off PATH.
    private static func binaryDirectory() throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        for version in versions.reversed() where FileManager.default.isExecutableFile(atPath: "\(root)/\(version)/bin/postgres") {
            return "\(root)/\(version)/bin"
        }
        if let initdb = try? ProcessRunner.locate("initdb") {
            return URL(fileURLWithPath: initdb).resolvingSymlinksInPath().deletingLastPathComponent().path
        }
        throw ProcessRunner.ProgramNotFound(name: "postgres (Debian package postgresql)")
    }

    /// Spawns the postmaster in the foreground and waits until it accepts connections.
    private static func launch(
        binaries: String, account: Account?, directory: String, logPath: String, port: Int, durable: Bool
    ) throws -> pid_t {
        // ChildSpawner truncates the log: each start reads its own from the beginning.
        let offset = 0
        let speed = durable ? [] : ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
        let arguments = asAccount(account, [
            binaries + "/postgres", "-D", directory + "/data", "-h", "127.0.0.1", "-p", String(port), "-k", directory,
            "-c", "max_connections=300", "-c", "shared_buffers=32MB",
        ] + speed)
        let child = try ChildSpawner.spawn(arguments, output: logPath)
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            let text = newLog(logPath, from: offset)
            if ChildSpawner.hasExited(child) { throw SSHDFixture.FixtureError("postgres exited: \(text)") }
            if text.contains("Address already in use") {
                kill(child, SIGKILL)
                _ = ChildSpawner.exitStatus(child)
                throw SSHDFixture.FixtureError("postgres port \(port) in use")
            }
            if text.contains("ready to accept connections") { return child }
            usleep(20_000)
        }
        kill(child, SIGKILL)
        _ = ChildSpawner.exitStatus(child)
        throw SSHDFixture.FixtureError("postgres did not start within 60 s: \(newLog(logPath, from: offset))")
    }

    private static func newLog(_ path: String, from offset: Int) -> String {
        guard let data = FileManager.default.contents(atPath: path), data.count > offset else { return "" }
        return String(decoding: data.dropFirst(offset), as: UTF8.self)
    }
}
