public import BastionCore
public import BastionStore
import BastionCrypto
import Foundation

/// Decides whether a recording may be replayed or exported as the one that was made.
///
/// The expected SHA-256 is taken from the `session.end` record in the audit log (not from the
/// catalog, which is only an index), after checking that record's link in the hash chain: a
/// rewritten record or an altered file both fail.
public struct RecordingVerifier: Sendable {
    public typealias Verdict = RecordingVerdict

    private let environment: BastionEnvironment

    public init(environment: BastionEnvironment) {
        self.environment = environment
    }

    public func check(_ session: IndexedSession) -> Verdict {
        let now = environment.clock.now()
        guard let record = try? environment.auditLog.search(AuditQuery(fromSeq: session.auditSeq, toSeq: session.auditSeq)).first,
            let event = try? AuditEvent(canonicalJSON: Array(record.json.utf8)), event.details["session_id"] == session.id
        else {
            return .refused("session \(session.id): its session.end audit record (seq \(session.auditSeq)) is missing")
        }
        let report = try? environment.auditLog.verify(
            publicKey: environment.keys.auditKey.publicKey, from: session.auditSeq, to: session.auditSeq,
            purgeableBefore: RetentionPeriod.floor.cutoff(at: now)
        )
        guard let report, report.problems.isEmpty else {
            return .refused("session \(session.id): its session.end audit record (seq \(session.auditSeq)) does not verify against the hash chain")
        }
        var trusted = session
        trusted.recording = event.details["recording"].flatMap { $0 == "none" ? nil : $0 }
        trusted.recordingSHA256 = event.details["recording_sha256"]
        switch RecordingIntegrity.check(trusted) {
        case .intact: return .intact(path: trusted.recording ?? "")
        case .unrecorded: return .refused("session \(session.id) has no recording")
        case .missing(let path): return .refused("session \(session.id): recording \(path) is missing or unreadable")
        case .altered(let expected, let actual):
            return .refused("session \(session.id): the recording does not match its audit record (sha256 \(actual), recorded \(expected))")
        }
    }
}
