import BastionCore
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle

/// `backup.drill_every`: drills the newest backup in `backup.dir` on a schedule (first run one
/// interval after start). A failed drill, or no backup to drill, is logged at error level and
/// audited as a failed `backup.drill`, which SIEM rules can alert on; it never stops the daemon.
struct BackupDrillService: Service {
    let environment: BastionEnvironment
    let directory: String
    let interval: TimeInterval
    let logger: Logger

    func run() async throws {
        while true {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(interval)) }
            } catch {
                return
            }
            let (environment, directory, logger) = (environment, directory, logger)
            do {
                // Minutes of file I/O for a large backup: on the blocking pool.
                try await NIOThreadPool.singleton.runIfActive {
                    try Self.drillNewest(in: directory, environment: environment, logger: logger)
                }
            } catch {
                logger.error("backup drill could not be recorded: \(error)")
            }
        }
    }

    static func drillNewest(in directory: String, environment: BastionEnvironment, logger: Logger) throws {
        let actor = AuditEvent.Actor(user: nil, method: "daemon")
        guard let newest = BackupDrill.newestBackup(in: directory) else {
            logger.error("backup drill: no backup in \(directory)")
            try environment.auditLog.append(AuditEvent(
                type: .backupDrill, time: environment.clock.now(), outcome: .failure, actor: actor,
                reason: "no backup in \(directory)", details: ["directory": directory]
            ))
            return
        }
        let result = try BackupDrill(environment: environment).run(backup: newest, actor: actor)
        if result.passed {
            logger.notice("\(result.text)", metadata: ["backup": "\(newest)"])
        } else {
            logger.error("\(result.text)", metadata: ["backup": "\(newest)"])
        }
    }
}
