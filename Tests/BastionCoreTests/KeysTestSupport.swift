import Foundation

/// Runs the real OpenSSH and OATH tools for cross-checks. Private to the key, certificate
/// and TOTP tests; a shared fixture may replace it in BastionTesting.
enum KeysTestTool {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Whether an executable exists at `path`.
    static func isInstalled(_ path: String) -> Bool {
        FileManager.default.isExecutableFile(atPath: path)
    }

    /// Runs `executable` with `arguments` in UTC, collecting both streams.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], input: String? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["TZ"] = "UTC"
        process.environment = environment
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Read stderr on another thread so neither pipe can fill and block the child.
        let errorData = LockedData()
        let errorReader = Thread { errorData.set(stderr.fileHandleForReading.readDataToEndOfFile()) }
        errorReader.start()
        let outData = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        errorData.wait()
        return Output(
            status: process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errorData.value, as: UTF8.self)
        )
    }

    /// Like `run`, but throws unless the exit status is 0.
    @discardableResult
    static func check(_ executable: String, _ arguments: [String]) throws -> Output {
        let output = try run(executable, arguments)
        guard output.status == 0 else {
            throw Failure(description: "\(executable) \(arguments.joined(separator: " ")) exited \(output.status): \(output.stderr)")
        }
        return output
    }

    @discardableResult
    static func sshKeygen(_ arguments: [String]) throws -> Output {
        try check("/usr/bin/ssh-keygen", arguments)
    }

    /// Stderr holder written by one thread and read by another.
    /// `@unchecked Sendable`: `data` is only touched under `lock`; `done` signals the write.
    final class LockedData: @unchecked Sendable {
        private let lock = NSLock()
        private let done = DispatchSemaphore(value: 0)
        private var data: Data?

        func set(_ value: Data) {
            lock.lock()
            data = value
            lock.unlock()
            done.signal()
        }

        func wait() {
            done.wait()
        }

        var value: Data {
            lock.lock()
            defer { lock.unlock() }
            return data ?? Data()
        }
    }
}
