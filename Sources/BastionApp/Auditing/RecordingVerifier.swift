public import BastionCore
import BastionCrypto
public import Foundation

/// Decides whether a recording may be replayed or exported as the one that was made.
///
/// The expected SHA-256 is taken from the `session.end` record in the audit log (not from the
/// catalog, which is only an index), after checking that record's link in the hash chain: a
/// rewritten record or an altered file both fail.
public struct RecordingVerifier: Sendable {
    public typealias Verdict = RecordingVerdict

    public typealias Refusal = RecordingRefusal

    private let environment: BastionEnvironment

    public init(environment: BastionEnvironment) {
        self.environment = environment
    }

    public func check(_ session: IndexedSession) -> Verdict {
        switch trustedRecording(session) {
        case .failure(let refusal): return .refused(refusal.reason)
        case .success(let trusted):
            switch RecordingIntegrity.check(trusted) {
            case .intact: return .intact(path: trusted.recording ?? "")
            case .unrecorded: return .refused("session \(session.id) has no recording")
            case .missing(let path): return .refused("session \(session.id): recording \(path) is missing or unreadable")
            case .altered(let expected, let actual):
                return .refused("session \(session.id): the recording does not match its audit record (sha256 \(actual), recorded \(expected))")
            }
        }
    }

    /// The recording's bytes, read once and checked as read: what is served is exactly what
    /// was hashed (no window between a check of the file and a second read of it).
    public func readVerified(_ session: IndexedSession) -> Result<Data, Refusal> {
        switch trustedRecording(session) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let trusted):
            guard let path = trusted.recording, let expected = trusted.recordingSHA256 else {
                return .failure(Refusal(reason: "session \(session.id) has no recording"))
            }
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: path)) else {
                return .failure(Refusal(reason: "session \(session.id): recording \(path) is missing or unreadable"))
            }
            let actual = Hex.string(SHA256.hash(Array(data)))
            guard constantTimeEquals(Array(actual.utf8), Array(expected.utf8)) else {
                return .failure(Refusal(reason: "session \(session.id): the recording does not match its audit record (sha256 \(actual), recorded \(expected))"))
            }
            do {
                return .success(Data(try environment.recordingKeys.plaintext(of: Array(data), path: path)))
            } catch {
                return .failure(Refusal(reason: "session \(session.id): the recording cannot be opened: \(error)"))
            }
        }
    }

    /// `session` with the recording path and hash its chained `session.end` record holds.
    private func trustedRecording(_ session: IndexedSession) -> Result<IndexedSession, Refusal> {
        let now = environment.clock.now()
        guard let record = try? environment.auditLog.search(AuditQuery(fromSeq: session.auditSeq, toSeq: session.auditSeq)).first,
            let event = try? AuditEvent(canonicalJSON: Array(record.json.utf8)), event.details[.sessionID] == session.id.rawValue
        else {
            return .failure(Refusal(reason: "session \(session.id): its session.end audit record (seq \(session.auditSeq)) is missing"))
        }
        let report = try? environment.auditLog.verify(
            publicKey: environment.auditTrustAnchor(), from: session.auditSeq, to: session.auditSeq,
            purgeableBefore: RetentionPeriod.floor.cutoff(at: now)
        )
        guard let report, report.problems.isEmpty else {
            return .failure(Refusal(reason: "session \(session.id): its session.end audit record (seq \(session.auditSeq)) does not verify against the hash chain"))
        }
        var trusted = session
        trusted.recording = event.details[.recording].flatMap { $0 == "none" ? nil : $0 }
        trusted.recordingSHA256 = event.details[.recordingSHA256]
        return .success(trusted)
    }
}
