public import Foundation

/// Runs a real program (ssh, ssh-keygen, oathtool, …) and collects what it printed.
///
/// Output is read on background threads while the process runs so a chatty program
/// cannot block on a full pipe; a deadline kills it (by PID) so a hung client cannot
/// hang the test suite.
public struct ProcessRunner: Sendable {
    public struct Result: Sendable, CustomStringConvertible {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public var timedOut: Bool

        public var description: String { "exit \(status)\(timedOut ? " (timed out)" : "")\nstdout: \(stdout)\nstderr: \(stderr)" }
    }

    public init() {}

    /// Runs `executable` (a path, or a name looked up in PATH) to completion, waiting on a
    /// thread of its own: the cooperative pool has one thread per core (two here), and a
    /// test blocking it would starve the bastiond it talks to.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], input: Data? = nil,
        timeout: TimeInterval = 30, currentDirectory: String? = nil
    ) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Swift.Result {
                    try runBlocking(
                        executable, arguments, environment: environment, input: input, timeout: timeout, currentDirectory: currentDirectory
                    )
                })
            }
            thread.start()
        }
    }

    /// The blocking form of ``run(_:_:environment:input:timeout:currentDirectory:)``, for code
    /// that is not async (benchmarks); never call it from Swift's cooperative pool.
    public static func runBlocking(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:], input: Data? = nil,
        timeout: TimeInterval = 30, currentDirectory: String? = nil
    ) throws -> Result {
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        let output = try ChildSpawner.pipe(), errors = try ChildSpawner.pipe()
        let feed = try input.map { _ in try ChildSpawner.pipe() }
        defer { for fd in [output.read, errors.read] { close(fd) } }
        let process: SpawnedProcess
        do {
            defer { for fd in [output.write, errors.write] + (feed.map { [$0.read] } ?? []) { close(fd) } }
            process = try SpawnedProcess(
                executable: executable, arguments, environment: merged, currentDirectory: currentDirectory,
                stdin: feed.map { .descriptor($0.read) } ?? .null, stdout: .descriptor(output.write), stderr: .descriptor(errors.write)
            )
        } catch {
            if let feed { close(feed.write) }
            throw error
        }
        let collectedOut = Collector(), collectedErr = Collector()
        let group = DispatchGroup()
        for (fd, collector) in [(output.read, collectedOut), (errors.read, collectedErr)] {
            group.enter()
            Thread {
                collector.data = Self.readToEnd(fd)
                group.leave()
            }.start()
        }
        if let input, let feed {
            // On a thread of its own: a child that stops reading must not stop the deadline.
            Thread {
                // A child that exits unread makes the write fail with EPIPE rather than raise a
                // SIGPIPE that would end the test process; the signal stays pending on this
                // thread and goes with it.
                var pipeSignal = sigset_t()
                sigemptyset(&pipeSignal)
                sigaddset(&pipeSignal, SIGPIPE)
                pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
                input.withUnsafeBytes { bytes in
                    var offset = 0
                    while offset < bytes.count {
                        let written = write(feed.write, bytes.baseAddress! + offset, bytes.count - offset)
                        if written < 0, errno == EINTR { continue }
                        guard written > 0 else { break }
                        offset += written
                    }
                }
                close(feed.write)
            }.start()
        }
        let timedOut = process.waitBlocking(killingAt: Date().addingTimeInterval(timeout))
        group.wait()
        return Result(
            status: process.exitStatus ?? -1, stdout: String(decoding: collectedOut.data, as: UTF8.self),
            stderr: String(decoding: collectedErr.data, as: UTF8.self), timedOut: timedOut
        )
    }

    /// Everything readable from `fd` until its writers have all closed it.
    private static func readToEnd(_ fd: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return data }
            data.append(contentsOf: buffer[0..<count])
        }
    }

    /// The absolute path of a program found in PATH.
    public static func locate(_ name: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"] {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ProgramNotFound(name: name)
    }

    public struct ProgramNotFound: Error, CustomStringConvertible {
        public var name: String
        public var description: String { "\(name) is not installed (make test installs it: see the Makefile)" }
    }

    /// Output gathered on a background thread; read only after the DispatchGroup wait.
    private final class Collector: @unchecked Sendable {
        var data = Data()
    }
}
