import BastionTesting
import Foundation

/// The `bastiond` executable built next to the tests (`make test` builds it first).
enum BastiondBinary {
    /// This checkout's root (Tests/IntegrationTests/Support/ is three levels down).
    static let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    static var path: String {
        get throws {
            // Next to the running test bundle first (any --scratch-path), then the default build folders.
            let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("bastiond").path
            if FileManager.default.isExecutableFile(atPath: beside) { return beside }
            let repository = Self.checkout
            for configuration in ["debug", "release"] {
                let candidate = repository.appendingPathComponent(".build/\(configuration)/bastiond").path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
            throw HarnessError(message: "bastiond is not built: run `swift build --build-tests` (make test does)")
        }
    }

    static func run(_ arguments: [String], timeout: TimeInterval = 30) async throws -> ProcessRunner.Result {
        try await ProcessRunner.run(try path, arguments, timeout: timeout)
    }
}
