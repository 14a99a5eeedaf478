import BastionCore
import BastionCrypto
import BastionStore
import Foundation

/// The audit log at scale: durable appends per second with the chain, checkpoints and the
/// fsync policy in force (SQLite WAL, `synchronous = FULL`, group commit), then records
/// verified per second over the whole chain. Goals (issue 4): ≥ 20,000 appends/s and
/// ≥ 500,000 records/s verified, for one million records, on this 2-core machine.
enum AuditBenchmark {
    struct Result {
        var records: Int
        var writers: Int
        var appendSeconds: Double
        /// One writer, one record per commit: what a single fsync per record allows.
        var serialAppendsPerSecond: Double
        var verifySeconds: Double
        var checkpoints: Int
        var intact: Bool
        var databaseBytes: Int
        /// Records per durable transaction under group commit (serial part excluded).
        var recordsPerCommit: Double
        var appendsPerSecond: Double { Double(records) / appendSeconds }
        var verifiedPerSecond: Double { Double(records) / verifySeconds }
    }

    static func run(records: Int, writers: Int, scratch: ScratchDirectory) throws -> Result {
        let path = scratch.file("audit-bench.sqlite")
        let key = try Ed25519PrivateKey()
        let handle = try DatabasePoolHandle(path: path, sealing: .init(key: key, every: 1_000))
        let log = handle.auditLog

        // Serial: every append waits for its own fsync.
        let serialCount = 2_000
        let serialStart = Date()
        for index in 0..<serialCount { try log.append(event(index, writer: 0)) }
        let serialSeconds = Date().timeIntervalSince(serialStart)

        // Concurrent writers, as the daemon's connection threads are: group commit.
        let concurrent = max(records - serialCount, writers)
        let shares = (0..<writers).map { concurrent / writers + ($0 < concurrent % writers ? 1 : 0) }
        let failures = Failures()
        let start = Date()
        let group = DispatchGroup()
        for writer in 0..<writers {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    for index in 0..<shares[writer] { try log.append(event(index, writer: writer + 1)) }
                } catch {
                    failures.record(error)
                }
            }.start()
        }
        group.wait()
        let appendSeconds = Date().timeIntervalSince(start)
        if let error = failures.first { throw error }
        let commits = log.commitStatistics
        try log.checkpoint()

        let total = serialCount + concurrent
        let verifyStart = Date()
        let report = try log.verify(publicKey: key.publicKey, purgeableBefore: RetentionPeriod.floor.cutoff(at: Date()))
        let verifySeconds = Date().timeIntervalSince(verifyStart)
        let size = ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0)
            + ((try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0)
        return Result(
            records: total, writers: writers, appendSeconds: appendSeconds * Double(total) / Double(concurrent),
            serialAppendsPerSecond: Double(serialCount) / serialSeconds, verifySeconds: verifySeconds,
            checkpoints: report.checkpointsChecked, intact: report.isIntact && report.recordsChecked == total, databaseBytes: size,
            recordsPerCommit: Double(commits.records - serialCount) / Double(max(commits.batches - serialCount, 1))
        )
    }

    /// A login record as the daemon writes them: actor, connection, details.
    static func event(_ index: Int, writer: Int) -> AuditEvent {
        AuditEvent(
            type: .authLogin, time: Date(), actor: .init(user: "user\(writer)", method: "publickey+totp", keyFingerprint: "SHA256:Xy6Vn4bq1Vd1Yp0lTqk1N0hQ9lZr8u6W1mYc0fR2sKc"),
            connection: .init(id: ConnectionID(rawValue: "c\(writer)-\(index)"), remoteAddress: "10.1.\(writer).\(index % 250)", remotePort: 40_000 + index % 20_000, sshUsername: "user\(writer)"),
            details: ["certificate_valid_before": "1800014400"]
        )
    }

    static func render(_ result: Result) -> String {
        func rate(_ value: Double) -> String { String(format: "%.0f", value) }
        let appendGoal = result.appendsPerSecond >= 20_000 ? "met" : "MISSED"
        let verifyGoal = result.verifiedPerSecond >= 500_000 ? "met" : "MISSED"
        return """
            audit log (\(result.records) records, SQLite WAL synchronous=FULL, checkpoint every 1000, \(result.writers) writers)
              durable appends/s (group commit)  \(rate(result.appendsPerSecond))   goal >= 20000: \(appendGoal)   (\(String(format: "%.1f", result.recordsPerCommit)) records per fsync)
              durable appends/s (1 writer)      \(rate(result.serialAppendsPerSecond))   (one fsync per record)
              records verified/s                \(rate(result.verifiedPerSecond))   goal >= 500000: \(verifyGoal)
              chain intact                      \(result.intact ? "yes" : "NO")   checkpoints \(result.checkpoints)   database \(result.databaseBytes / 1_048_576) MiB
            """
    }

    /// The first error any writer thread hit.
    final class Failures: @unchecked Sendable {
        private let lock = NSLock()
        private var errors: [any Error] = []
        func record(_ error: any Error) { lock.withLock { errors.append(error) } }
        var first: (any Error)? { lock.withLock { errors.first } }
    }
}
