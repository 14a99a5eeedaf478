import BastionCore
import BastionTesting
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A wall clock the recording tests move by hand.
final class RecordingTestClock: WallClock {
    private let current: Mutex<Date>

    init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = Mutex(start)
    }

    func now() -> Date { current.withLock { $0 } }

    func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }
}

/// A temporary recording store, removed when the test drops it.
final class RecordingTempDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("bastion-rec-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// The real programs that judge a recording: asciinema and sha256sum.
enum RecordingTools {
    struct Run {
        var status: Int32
        var output: String
    }

    /// `script -qec "asciinema cat FILE" /dev/null`: asciinema wants a TTY, script gives one.
    static func asciinemaCat(_ path: String) throws -> Run {
        try run("/usr/bin/script", ["-qec", "asciinema cat '\(path)'", "/dev/null"])
    }

    /// The file's SHA-256 as `sha256sum` prints it.
    static func sha256sum(_ path: String) throws -> String {
        let result = try run("/usr/bin/sha256sum", [path])
        return String(result.output.prefix(64))
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> Run {
        let result = try ProcessRunner.runBlocking(executable, arguments)
        return Run(status: result.status, output: result.stdout + result.stderr)
    }

    /// Terminal output compared without carriage returns, which the TTY adds and the
    /// recording may carry.
    static func text(_ text: String) -> String {
        text.replacingOccurrences(of: "\r", with: "")
    }

    static func contents(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }

    /// The file's lines after the header, decoded as `[time, code, data]`.
    static func events(_ path: String) throws -> [(time: Double, code: String, data: String)] {
        let lines = contents(path).split(separator: "\n").dropFirst()
        return try lines.map { line in
            let array = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [Any] ?? []
            return (array[0] as? Double ?? -1, array[1] as? String ?? "", array[2] as? String ?? "")
        }
    }

    static func header(_ path: String) throws -> [String: Any] {
        let first = contents(path).split(separator: "\n").first.map(String.init) ?? ""
        return try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any] ?? [:]
    }

    static func mode(_ path: String) -> mode_t {
        var info = stat()
        _ = stat(path, &info)
        return info.st_mode & 0o7777
    }

    /// Polls `condition` every 20 ms until it holds or `seconds` pass.
    static func waitUntil(_ seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    static func metadata(
        _ sessionID: String = "s-\(UUID().uuidString.prefix(8))",
        startedAt: Date = Date(timeIntervalSince1970: 1_800_000_000)
    ) -> RecordingMetadata {
        RecordingMetadata(
            sessionID: sessionID, user: "alice", login: "root", target: "db-1",
            sourceAddress: "192.0.2.7", width: 120, height: 40, term: "xterm-256color",
            shell: "/bin/bash", command: nil, title: "alice@db-1", startedAt: startedAt
        )
    }
}
