public import BastionCore
public import Foundation

/// One pass of the retention policy: audit ranges, then recordings. Run daily by the daemon
/// and on demand by `bastiond retention run`; both write what they purged to the audit log.
public struct RetentionRun: Sendable {
    public struct Summary: Sendable {
        public var auditCutoff: Date
        public var recordingCutoff: Date
        public var purgedRanges: [ClosedRange<Int64>]
        public var purgedRecords: Int
        public var heldRanges: [ClosedRange<Int64>]
        public var recordings: RecordingRetention.Outcome

        /// A few lines for the operator.
        public var text: String {
            func ranges(_ list: [ClosedRange<Int64>]) -> String {
                list.isEmpty ? "none" : list.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ", ")
            }
            return [
                "audit records older than \(AuditEvent.timestamp(auditCutoff)): purged \(purgedRecords) in ranges \(ranges(purgedRanges))",
                "kept by legal hold: \(ranges(heldRanges))",
                "recordings older than \(AuditEvent.timestamp(recordingCutoff)): deleted \(recordings.deleted.count) (\(recordings.bytes) bytes), \(recordings.held.count) kept by legal hold",
            ].joined(separator: "\n")
        }
    }

    public var environment: BastionEnvironment
    public var actor: AuditEvent.Actor

    public init(environment: BastionEnvironment, actor: AuditEvent.Actor) {
        self.environment = environment
        self.actor = actor
    }

    public func run() throws -> Summary {
        let now = environment.clock.now()
        let retention = environment.configuration.retention
        let auditCutoff = retention.audit.cutoff(at: now)
        let actor = self.actor
        let outcome = try environment.auditLog.purge(before: auditCutoff) { outcome in
            AuditEvent(
                type: .auditPurge, time: now, actor: actor, reason: "past audit retention (\(retention.audit))",
                details: [
                    "cutoff": AuditEvent.timestamp(auditCutoff), "records": String(outcome.purgedRecords),
                    "ranges": outcome.purgedRanges.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ","),
                    "held_ranges": outcome.heldRanges.map { "\($0.lowerBound)-\($0.upperBound)" }.joined(separator: ","),
                ]
            )
        }
        let held = try environment.auditLog.heldRecordingOwners()
        let recordingCutoff = retention.recordings.cutoff(at: now)
        let recordings = try RecordingRetention(directory: environment.configuration.recording.directory, audit: environment.auditLog, keys: environment.recordingKeys)
            .purge(before: recordingCutoff, heldUsers: held.users, heldSessions: held.sessions, actor: actor, now: now)
        return Summary(
            auditCutoff: auditCutoff, recordingCutoff: recordingCutoff, purgedRanges: outcome.purgedRanges,
            purgedRecords: outcome.purgedRecords, heldRanges: outcome.heldRanges, recordings: recordings
        )
    }
}
