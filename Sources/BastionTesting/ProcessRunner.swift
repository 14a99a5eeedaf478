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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : try locate(executable))
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let stdout = Pipe(), stderr = Pipe(), stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        let collectedOut = Collector(), collectedErr = Collector()
        let group = DispatchGroup()
        try process.run()
        for (pipe, collector) in [(stdout, collectedOut), (stderr, collectedErr)] {
            group.enter()
            DispatchQueue.global().async {
                collector.data = pipe.fileHandleForReading.readDataToEndOfFile()
                group.leave()
            }
        }
        if let input {
            stdin.fileHandleForWriting.write(input)
            try? stdin.fileHandleForWriting.close()
        }
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while process.isRunning {
            if Date() > deadline {
                timedOut = true
                kill(process.processIdentifier, SIGKILL)
                break
            }
            usleep(5_000)
        }
        process.waitUntilExit()
        group.wait()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: collectedOut.data, as: UTF8.self),
            stderr: String(decoding: collectedErr.data, as: UTF8.self), timedOut: timedOut
        )
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
