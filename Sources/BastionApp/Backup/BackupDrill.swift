public import BastionCore
import BastionCrypto
import BastionStore
import Foundation

/// `bastiond backup drill` and `backup.drill_every`: proves a backup restores, and measures
/// how long that takes (the recovery time objective, measured rather than hoped for).
///
/// Restores into a scratch directory inside the data directory (the one place the daemon's
/// sandbox may write, and already as private as the plaintext it will hold), verifies the
/// restored audit chain against this installation's audit key and the manifest's last record,
/// checks every recording against its `session.end` record's SHA-256, decrypts a sample
/// (the newest and the oldest) and compares it with the record's plaintext hash, then removes
/// the scratch directory. The outcome is audited as `backup.drill` in the live log.
public struct BackupDrill: Sendable {
    public struct Result: Sendable {
        public var backup: String
        public var passed: Bool
        public var seconds: Double
        public var records = 0
        public var recordings = 0
        public var problems: [String] = []

        /// `backup drill: PASS in 1.23s (…)`, or FAIL and the reasons, one per line.
        public var text: String {
            let counts = "\(records) audit records, \(recordings) recordings"
            let head = "backup drill: \(passed ? "PASS" : "FAIL") in \(String(format: "%.2f", seconds))s (\(counts))"
            return ([head] + problems.map { "  " + $0 }).joined(separator: "\n")
        }
    }

    private let environment: BastionEnvironment

    public init(environment: BastionEnvironment) {
        self.environment = environment
    }

    /// Runs the drill and appends `backup.drill`; throws only when the audit record cannot be
    /// written (a drill nobody can see did not happen).
    public func run(backup directory: String, recoveryKey: RecoveryKey.PrivateKey? = nil, actor: AuditEvent.Actor) throws -> Result {
        let started = ContinuousClock.now
        var result = drill(backup: directory, recoveryKey: recoveryKey)
        let elapsed = ContinuousClock.now - started
        result.seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        try environment.auditLog.append(AuditEvent(
            type: .backupDrill, time: environment.clock.now(), outcome: result.passed ? .success : .failure, actor: actor,
            reason: result.problems.first,
            details: [
                "backup": result.backup, "directory": directory, "seconds": String(format: "%.3f", result.seconds),
                "recordings": String(result.recordings), "records": String(result.records),
            ]
        ))
        return result
    }

    private func drill(backup directory: String, recoveryKey: RecoveryKey.PrivateKey?) -> Result {
        var result = Result(backup: "", passed: false, seconds: 0)
        let auditKey = environment.keys.auditKey.publicKey
        let scratch = environment.configuration.server.dataDirectory + "/.drill-" + RandomID.hex(bytes: 8)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let dataDirectory = scratch + "/data", recordingDirectory = scratch + "/recordings"
        let outcome: BackupRestorer.Outcome
        do {
            outcome = try BackupRestorer.restore(
                backup: directory, dataDirectory: dataDirectory, recordingDirectory: recordingDirectory,
                keys: recoveryKey.map { .recovery($0) } ?? .masterKeys(environment.keys.masterKeys), pinned: auditKey
            )
        } catch {
            result.backup = (try? manifestID(directory)) ?? ""
            result.problems.append("restore: \(error)")
            return result
        }
        let manifest = outcome.manifest
        result.backup = manifest.id
        result.recordings = outcome.recordings
        if manifest.database == "sqlite" {
            do {
                result.problems += try checkDatabase(manifest, dataDirectory: dataDirectory, recordingDirectory: recordingDirectory, result: &result)
            } catch {
                result.problems.append("restored database: \(error)")
            }
        }
        result.passed = result.problems.isEmpty
        return result
    }

    /// The subdirectory of `directory` whose manifest was written last.
    public static func newestBackup(in directory: String) -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.compactMap { name -> (String, Date)? in
            let path = directory + "/" + name
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path + "/" + BackupManifest.fileName),
                  let modified = attributes[.modificationDate] as? Date
            else { return nil }
            return (path, modified)
        }.max { $0.1 < $1.1 }?.0
    }

    private func manifestID(_ directory: String) throws -> String {
        guard let bytes = FileManager.default.contents(atPath: directory + "/" + BackupManifest.fileName) else { return "" }
        return try BackupManifest.decode(Array(bytes)).id
    }

    /// The restored audit chain, its tail, and every recording against its `session.end`.
    private func checkDatabase(
        _ manifest: BackupManifest, dataDirectory: String, recordingDirectory: String, result: inout Result
    ) throws -> [String] {
        var problems: [String] = []
        let database = try DatabasePoolHandle(path: dataDirectory + "/" + BastionEnvironment.databaseFileName)
        let auditKey = environment.keys.auditKey.publicKey
        let report = try database.auditLog.verify(publicKey: auditKey, purgeableBefore: RetentionPeriod.floor.cutoff(at: environment.clock.now()))
        result.records = report.recordsChecked
        if !report.isIntact {
            problems.append("audit verify: \(report.problemCount) problems, first: seq \(report.problems.first?.seq ?? 0): \(report.problems.first?.detail ?? "")")
        }
        if let expected = manifest.auditLastSeq, report.lastSeq != expected {
            problems.append("audit log ends at seq \(report.lastSeq.map(String.init) ?? "none"), the manifest says \(expected) (records lost)")
        }

        var purged: Set<String> = []
        try database.auditLog.forEach(AuditQuery(type: AuditEventType.recordingPurge.name)) { record in
            if let id = (try? AuditEvent(canonicalJSON: Array(record.json.utf8)))?.session?.id.rawValue { purged.insert(id) }
        }
        var checked: [(path: String, plainSHA256: String?)] = []
        let prefix = manifest.recordingDirectory.hasSuffix("/") ? manifest.recordingDirectory : manifest.recordingDirectory + "/"
        try database.auditLog.forEach(AuditQuery(type: AuditEventType.sessionEnd.name)) { record in
            guard let event = try? AuditEvent(canonicalJSON: Array(record.json.utf8)) else {
                problems.append("audit seq \(record.seq): session.end does not decode")
                return
            }
            guard let path = event.details[.recording], path != "none", let expected = event.details[.recordingSHA256] else { return }
            let session = event.details[.sessionID] ?? "?"
            guard path.hasPrefix(prefix) else {
                problems.append("session \(session): recording \(path) is outside the recording directory \(manifest.recordingDirectory)")
                return
            }
            let restored = recordingDirectory + "/" + String(path.dropFirst(prefix.count))
            guard FileManager.default.fileExists(atPath: restored) else {
                if !purged.contains(session) { problems.append("session \(session): recording \(path) is not in the backup") }
                return
            }
            guard let actual = try? BackupFileCipher.sha256(ofFile: restored) else {
                problems.append("session \(session): recording \(path) cannot be read")
                return
            }
            guard constantTimeEquals(Array(actual.sha256.utf8), Array(expected.utf8)) else {
                problems.append("session \(session): recording \(path) does not match its session.end (sha256 \(actual.sha256), recorded \(expected))")
                return
            }
            checked.append((restored, event.details["recording_plain_sha256"]))
        }
        // A sample decrypted with this installation's master key: the recordings' own data keys open.
        for sample in Set([checked.first?.path, checked.last?.path].compactMap { $0 }) {
            let plainSHA256 = checked.first { $0.path == sample }?.plainSHA256
            do {
                let text = try environment.recordingKeys.plaintext(atPath: sample)
                if let plainSHA256, !constantTimeEquals(Array(Hex.string(SHA256.hash(text)).utf8), Array(plainSHA256.utf8)) {
                    problems.append("\(sample.dropFirst(recordingDirectory.count + 1)): decrypted text does not match its session.end")
                } else if text.first != UInt8(ascii: "{") {
                    problems.append("\(sample.dropFirst(recordingDirectory.count + 1)): decrypted text is not asciicast")
                }
            } catch {
                problems.append("\(sample.dropFirst(recordingDirectory.count + 1)): cannot decrypt: \(error)")
            }
        }
        return problems
    }
}
