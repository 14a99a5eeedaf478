import BastionApp
import BastionCore
import Foundation

/// Backup and restore drill of an installation holding `mebibytes` of sealed recordings: the
/// recordings made by the real recorder (sealing included) with a `session.end` record each,
/// then `backup create`, `backup verify` and `backup drill` in this process, timed. The drill
/// time is the measured RTO.
enum BackupBenchmark {
    struct Result {
        var recordedBytes: Int
        var recordings: Int
        var create: Double
        var verify: Double
        var drill: Double
        var backupBytes: Int
        var drillPassed: Bool
    }

    static func run(mebibytes: Int, scratch: ScratchDirectory) throws -> Result {
        let root = scratch.file("backup-bench")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let recovery = try RecoveryKey.PrivateKey()
        let configuration = try BastionConfiguration.parse("""
            [server]
            data_dir = "\(root)/data"
            [recording]
            dir = "\(root)/recordings"
            [backup]
            recovery_key = "\(recovery.publicKey.text)"
            """, file: root + "/bastiond.toml")
        let environment = try BastionEnvironment.open(configuration: configuration)
        let perRecording = 128
        let count = max(1, mebibytes / perRecording)
        let line = Array(String(repeating: "0123456789abcdefghijklmnopqrstuvwxyz", count: 28).utf8) + [13, 10]
        var recordedBytes = 0
        for index in 0..<count {
            let id = "backup-bench-\(index)"
            let recorder = try SessionRecorder(
                directory: configuration.recording.directory,
                metadata: RecordingMetadata(
                    sessionID: id, user: "alice", login: "root", target: "web01", sourceAddress: "127.0.0.1", width: 80, height: 24,
                    term: nil, command: "bench", title: "bench", startedAt: Date()
                ),
                clock: SystemWallClock(), keys: environment.recordingKeys
            )
            var written = 0
            var chunk: [UInt8] = []
            while chunk.count < 32 * 1_024 { chunk += line }
            while written < perRecording << 20 {
                while !recorder.offerOutput(chunk) { usleep(200) }
                written += chunk.count
            }
            let summary = try recorder.close()
            recordedBytes += summary.size
            try environment.auditLog.append(AuditEvent(
                type: .sessionEnd, time: Date(), actor: .init(user: "alice", method: "bench"), session: .init(id: SessionID(rawValue: id)),
                details: [
                    "session_id": id, "recording": summary.path, "recording_size": String(summary.size), "recording_sha256": summary.sha256,
                    "recording_plain_sha256": summary.plaintextSHA256 ?? "",
                ]
            ))
        }
        let backup = root + "/backup"
        var started = ContinuousClock.now
        let created = try BackupWriter(environment: environment).create(into: backup, now: Date())
        let create = (ContinuousClock.now - started).seconds
        started = ContinuousClock.now
        let report = BackupVerifier.verify(directory: backup)
        let verify = (ContinuousClock.now - started).seconds
        guard report.isIntact else { throw BenchError("backup verify: \(report.problems)") }
        let drill = try BackupDrill(environment: environment).run(backup: backup, actor: .init(user: nil, method: "bench"))
        return Result(
            recordedBytes: recordedBytes, recordings: count, create: create, verify: verify, drill: drill.seconds,
            backupBytes: created.bytes, drillPassed: drill.passed
        )
    }

    static func render(_ result: Result) -> String {
        let gib = Double(result.recordedBytes) / 1_073_741_824
        func rate(_ seconds: Double) -> String { String(format: "%.1fs (%.0f MiB/s)", seconds, Double(result.recordedBytes) / 1_048_576 / seconds) }
        return [
            String(format: "backup of %.2f GiB of sealed recordings (%d files) + database: %.2f GiB written", gib, result.recordings,
                   Double(result.backupBytes) / 1_073_741_824),
            "  create \(rate(result.create))   verify \(rate(result.verify))   drill (restore, audit verify, hashes, sample) \(rate(result.drill))",
            "  drill: \(result.drillPassed ? "PASS" : "FAIL") (the measured RTO is the drill time)",
        ].joined(separator: "\n")
    }
}
