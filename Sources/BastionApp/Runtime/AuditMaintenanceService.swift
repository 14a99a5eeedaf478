import BastionCore
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle

/// The audit log's clockwork: a signed checkpoint every `checkpoint_interval` while records
/// arrive, and the retention policy once a day (first run one interval after start).
/// Failures are logged at error level and retried on the next tick; they never stop the
/// daemon, and never delete anything they could not record.
struct AuditMaintenanceService: Service {
    let auditLog: any AuditLogStore
    let checkpointInterval: TimeInterval
    let retention: @Sendable () throws -> RetentionRun.Summary
    /// The master key's schedule (rotate when due, re-wrap, retire); nil where another
    /// process owns it (several nodes: docs/keys.md).
    var keys: (@Sendable () throws -> Void)? = nil
    let clock: any WallClock
    let logger: Logger

    static let retentionPeriod: TimeInterval = 86_400
    static let keyPeriod: TimeInterval = 3_600

    func run() async throws {
        var lastRetention: Date?
        var lastKeys: Date?
        while true {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(checkpointInterval)) }
            } catch {
                return
            }
            do {
                // A signature and a durable write (a network round trip on PostgreSQL): on the blocking pool.
                if let checkpoint = try await NIOThreadPool.singleton.runIfActive({ [auditLog] in try auditLog.checkpoint() }) {
                    logger.debug("audit checkpoint signed", metadata: ["seq": "\(checkpoint.seq)"])
                }
            } catch {
                logger.error("audit checkpoint failed: \(error)")
            }
            let now = clock.now()
            if lastRetention.map({ now.timeIntervalSince($0) >= Self.retentionPeriod }) ?? true {
                do {
                    let summary = try await NIOThreadPool.singleton.runIfActive { [retention] in try retention() }
                    lastRetention = now
                    logger.notice("retention ran", metadata: ["summary": "\(summary.text)"])
                } catch {
                    logger.error("retention run failed: \(error)")
                }
            }
            if let keys, lastKeys.map({ now.timeIntervalSince($0) >= Self.keyPeriod }) ?? true {
                lastKeys = now
                do {
                    try await NIOThreadPool.singleton.runIfActive { try keys() }
                } catch {
                    logger.error("master key maintenance failed: \(error)")
                }
            }
        }
    }
}
