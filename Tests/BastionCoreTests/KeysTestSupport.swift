import BastionTesting
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
        let result = try ProcessRunner.runBlocking(executable, arguments, environment: ["TZ": "UTC"], input: input.map { Data($0.utf8) })
        return Output(status: result.status, stdout: result.stdout, stderr: result.stderr)
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
}
