import BastionApp
import BastionStore
import BastionCore
import BastionTesting
import Foundation
import Logging
import Prometheus

/// A real bastiond (the same composition root as `bastiond serve`) running in-process on
/// free loopback ports, with its own data directory; stopped when the test ends.
final class BastionHarness: @unchecked Sendable {
    let directory: TemporaryDirectory
    let environment: BastionEnvironment
    let endpoints: BastionDaemon.Endpoints
    let registry: PrometheusCollectorRegistry
    /// Bastion's clock; `clock.advance(by: 30)` moves to the next TOTP step.
    let clock: OffsetClock
    private let task: Task<Void, any Error>
    /// The daemon's own thread: its tasks (HTTP handlers, services) prefer it to the shared
    /// cooperative pool, so one bastiond per process, as in production, sees no other test's
    /// blocking work ahead of its own.
    private let executor: ThreadExecutor

    /// Starts a bastion whose config is the defaults plus `extraConfig` (TOML).
    init(
        extraConfig: String = "", directory existing: TemporaryDirectory? = nil, configure: (inout BastionConfiguration) -> Void = { _ in }
    ) async throws {
        let directory = try existing ?? TemporaryDirectory(prefix: "bastion-it")
        let text = Self.configText(in: directory, extra: extraConfig)
        var configuration = try BastionConfiguration.parse(text, file: directory.file("bastiond.toml"))
        configure(&configuration)
        let clock = OffsetClock()
        let opening = configuration
        let environment = try await offPool { try BastionEnvironment.open(configuration: opening, clock: clock) }
        let registry = PrometheusCollectorRegistry()
        let daemon = BastionDaemon(
            environment: environment, registry: registry,
            logger: Logger(label: "bastiond-test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let (stream, continuation) = AsyncStream.makeStream(of: BastionDaemon.Endpoints.self)
        let executor = ThreadExecutor()
        let task = Task(executorPreference: executor) {
            defer { continuation.finish() }
            try await daemon.run(handleSignals: false) { continuation.yield($0) }
        }
        var iterator = stream.makeAsyncIterator()
        guard let endpoints = await iterator.next() else {
            _ = await task.result
            throw HarnessError(message: "bastiond did not start")
        }
        self.directory = directory
        self.environment = environment
        self.endpoints = endpoints
        self.registry = registry
        self.clock = clock
        self.task = task
        self.executor = executor
    }

    /// The test configuration: free ports, a private data directory, two roles.
    static func configText(in directory: TemporaryDirectory, extra: String = "") -> String {
        """
        [server]
        data_dir = "\(directory.file("data"))"
        [ssh]
        listen = "127.0.0.1:0"
        [http]
        listen = "127.0.0.1:0"
        [recording]
        dir = "\(directory.file("recordings"))"
        [roles.engineer]
        targets = ["web*"]
        logins = ["deploy"]
        max_cert_ttl = "4h"
        [roles.auditor]
        max_cert_ttl = "1h"
        \(extra)
        """
    }

    /// Stops the daemon and waits for it to finish.
    func stop() async {
        task.cancel()
        _ = await task.result
    }

    var administration: UserAdministration { environment.administration(administrator: "test-admin") }

    /// Enrolls `name` with a fresh key of `type` made by ssh-keygen; returns the engineer's files.
    func enroll(_ name: String, keyType: KeyType = .ed25519, roles: [String] = ["engineer"]) async throws -> Engineer {
        let keyPath = try await Engineer.makeKey(in: directory, name: "\(name)-\(keyType.rawValue)", type: keyType)
        let administration = administration
        let enrollment = try await offPool {
            try administration.addUser(name: name, key: try String(contentsOfFile: keyPath + ".pub", encoding: .utf8), roles: roles)
        }
        return Engineer(name: name, keyPath: keyPath, secret: enrollment.secret.base32, harness: self)
    }

    /// Audit records of `type`, decoded, oldest first.
    func auditRecords(_ type: String) throws -> [[String: Any]] {
        try environment.auditLog.records(type: type).map {
            try JSONSerialization.jsonObject(with: Data($0.json.utf8)) as? [String: Any] ?? [:]
        }
    }

    /// The reasons of the `auth.failed` records so far.
    func denialReasons() throws -> [String] {
        try auditRecords("auth.failed").compactMap { $0["reason"] as? String }
    }

    enum KeyType: String {
        case ed25519, ecdsa, rsa2048, rsa3072
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// Runs `body` against a fresh bastion and always stops it, even when `body` throws.
func withBastion(
    extraConfig: String = "", configure: (inout BastionConfiguration) -> Void = { _ in }, _ body: (BastionHarness) async throws -> Void
) async throws {
    let harness = try await BastionHarness(extraConfig: extraConfig, configure: configure)
    do {
        try await body(harness)
    } catch {
        await harness.stop()
        throw error
    }
    await harness.stop()
}
