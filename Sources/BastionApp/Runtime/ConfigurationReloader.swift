public import BastionCore
import BastionCrypto
import Foundation
public import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif
// `timespec` and `stat` are declared by libdispatch's C headers too, and a clean build may
// attribute them there (MemberImportVisibility): import it so either way compiles.
#if canImport(CDispatch)
import CDispatch
#endif

/// SIGHUP: re-reads the configuration file and applies what can change in place
/// (``ReloadPlan``), or changes nothing.
///
/// An invalid file leaves the running policy as it is; the error names file, line and key,
/// in the log and in a refused `config.reload` record. A valid one is audited before it takes
/// effect (no record, no change), with the file's SHA-256 and what changed. Live sessions
/// meet the new roles at their connection's next enforcement check (within a second): one
/// whose role no longer grants its target or login ends with a message; others go on.
public final class ConfigurationReloader: Sendable {
    public enum Outcome: Sendable, Equatable {
        case applied(ReloadPlan, sha256: String)
        case refused(String)
    }

    private let file: String
    private let policy: LivePolicy
    private let audit: any AuditEmitter
    private let clock: any WallClock
    private let logLevel: LogLevelSwitch?
    private let systemd: SystemdNotifier?
    private let logger: Logger
    private let prepareRelays: @Sendable (BastionConfiguration, ReloadPlan) throws -> @Sendable () -> Void
    /// What is in force: the start's file with every reload's roles, targets, sinks, webhooks
    /// and level.
    private let running: Mutex<BastionConfiguration>
    /// One reload at a time: two SIGHUPs in a row run one after the other.
    private let serial = Mutex(())

    public init(
        file: String, running: BastionConfiguration, policy: LivePolicy, audit: any AuditEmitter, clock: any WallClock,
        logLevel: LogLevelSwitch?, systemd: SystemdNotifier?, logger: Logger,
        prepareRelays: @escaping @Sendable (BastionConfiguration, ReloadPlan) throws -> @Sendable () -> Void = { _, _ in {} }
    ) {
        self.prepareRelays = prepareRelays
        self.file = file
        self.running = Mutex(running)
        self.policy = policy
        self.audit = audit
        self.clock = clock
        self.logLevel = logLevel
        self.systemd = systemd
        self.logger = logger
    }

    /// Reads the file and applies it, or refuses it. Blocking (file read, audit append):
    /// call it off the cooperative pool.
    @discardableResult
    public func reload() -> Outcome {
        serial.withLock { _ in
            systemd?.send(["RELOADING=1", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())", "STATUS=reloading \(file)"])
            let outcome = attempt()
            switch outcome {
            case .applied(let plan, _): systemd?.send(["READY=1", "STATUS=ready; configuration reloaded: \(plan.summary)"])
            case .refused(let reason): systemd?.send(["READY=1", "STATUS=ready; reload refused, previous configuration kept: \(reason)"])
            }
            return outcome
        }
    }

    private func attempt() -> Outcome {
        let now = clock.now()
        let bytes: [UInt8]
        let next: BastionConfiguration
        do {
            bytes = try Self.read(file)
            next = try BastionConfiguration.parse(String(decoding: bytes, as: UTF8.self), file: file)
        } catch {
            let reason = "\(error)"
            logger.error("configuration reload refused; the running configuration is unchanged", metadata: ["error": "\(reason)"])
            try? audit.append(AuditEvent(
                type: .configReload, time: now, outcome: .failure, actor: .init(user: nil, method: "daemon"), reason: reason,
                details: ["config_file": file]
            ))
            return .refused(reason)
        }
        let digest = Hex.string(SHA256.hash(bytes))
        let current = running.withLock { $0 }
        let plan = ReloadPlan(from: current, to: next)
        let startRelays: @Sendable () -> Void
        do {
            startRelays = try prepareRelays(next, plan)
        } catch {
            let reason = "\(error)"
            logger.error("configuration reload refused; the running configuration is unchanged", metadata: ["error": "\(reason)"])
            try? audit.append(AuditEvent(
                type: .configReload, time: now, outcome: .failure, actor: .init(user: nil, method: "daemon"), reason: reason,
                details: ["config_file": file, "config_sha256": digest]
            ))
            return .refused(reason)
        }
        var details = plan.details
        details["config_file"] = file
        details["config_sha256"] = digest
        do {
            try audit.append(AuditEvent(type: .configReload, time: now, actor: .init(user: nil, method: "daemon"), details: details))
        } catch {
            logger.error("configuration reload not applied: the audit log refused its record", metadata: ["error": "\(error)"])
            return .refused("the audit log refused the record: \(error)")
        }
        policy.replace(with: next.policy)
        startRelays()
        if let level = plan.logLevel.flatMap(Logger.Level.init(rawValue:)) { logLevel?.current = level }
        running.withLock {
            $0.policy = next.policy
            $0.log = next.log
            $0.siem.sinks = next.siem.sinks
            $0.chatops.webhooks = next.chatops.webhooks
            if plan.reloadsTLS { $0.http.tls = next.http.tls }
        }
        logger.notice("configuration reloaded", metadata: ["sha256": "\(digest)", "changes": "\(plan.summary)"])
        if !plan.restartNeeded.isEmpty {
            logger.warning("configuration sections changed that apply only at the next start", metadata: [
                "sections": "\(plan.restartNeeded.joined(separator: ", "))",
            ])
        }
        return .applied(plan, sha256: digest)
    }

    /// The file whole, or the reason it cannot be read (as `bastiond serve` words it).
    private static func read(_ path: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(
                file: path, line: nil, key: "(file)", reason: FileManager.default.fileExists(atPath: path) ? "cannot read the file" : "no such file"
            )
        }
        return Array(data)
    }

    private static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }
}
