import ArgumentParser
import BastionApp
import BastionCore
import BastionCrypto
import Foundation
import Logging
import Metrics
import Prometheus

/// `bastiond serve`: runs the daemon.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the bastion daemon (SSH front door and HTTP endpoints).")

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let configuration = try Startup.loadConfiguration(options.config)
        let level = LogLevelSwitch(Logger.Level(rawValue: configuration.log.level) ?? .info)
        let processEnvironment = ProcessInfo.processInfo.environment
        let journal = DaemonLogHandler.writesToJournal(processEnvironment)
        LoggingSystem.bootstrap { label in DaemonLogHandler(label: label, level: level, journal: journal) }
        let logger = Logger(label: "bastiond")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let environment = try Startup.openEnvironment(configuration) { path in
            logger.notice("created key file", metadata: ["path": "\(path)"])
        }
        let digest = FileManager.default.contents(atPath: options.config).map { AuditChain.hex(SHA256.hash(Array($0))) }
        let daemon = BastionDaemon(
            environment: environment, registry: registry, logger: logger, configurationDigest: digest, configurationFile: options.config,
            logLevel: level, systemd: SystemdNotifier(environment: processEnvironment)
        )
        do {
            try daemon.checkHTTPTLS()
        } catch {
            throw Refusal(message: "refusing to start: \(error)", exitStatus: Refusal.cannotStart)
        }
        try await daemon.run { endpoints in
            logger.notice(
                "bastiond ready",
                metadata: ["ssh": "\(configuration.ssh.listen.host):\(endpoints.sshPort)", "http": "\(configuration.http.listen.host):\(endpoints.httpPort)"]
            )
        }
    }
}

/// Shared start-up steps: every failure becomes one clear line and exit code 78 (EX_CONFIG).
enum Startup {
    static func loadConfiguration(_ path: String) throws -> BastionConfiguration {
        do {
            return try BastionConfiguration.load(file: path)
        } catch {
            throw Refusal(message: "invalid configuration: \(error)", exitStatus: Refusal.cannotStart)
        }
    }

    static func openEnvironment(_ configuration: BastionConfiguration, keyCreated: (String) -> Void = { _ in }) throws -> BastionEnvironment {
        do {
            return try BastionEnvironment.open(configuration: configuration, keyCreated: keyCreated)
        } catch {
            throw Refusal(message: "refusing to start: \(error)", exitStatus: Refusal.cannotStart)
        }
    }

    static func open(_ path: String) throws -> BastionEnvironment {
        try openEnvironment(try loadConfiguration(path))
    }
}

/// An error printed as `bastiond: MESSAGE`, exiting with `exitStatus`: 1 for a refused
/// request, 78 (EX_CONFIG) when the configuration, keys or database do not let bastiond start.
struct Refusal: Error, CustomStringConvertible {
    static let cannotStart: Int32 = 78
    var message: String
    var exitStatus: Int32 = 1
    var description: String { message }
}
