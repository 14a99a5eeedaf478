import BastionCore
import Foundation
import Logging

/// Sessions that ended without their node seeing them end (it stopped, was killed, or its
/// host was lost): each gets its `session.end` record, and the recordings they left open are
/// closed with an `interrupted` marker and reported. Run by a node at start for its own
/// sessions, and by any node for the sessions of a node that went silent.
enum InterruptedSessions {
    static func recordEnded(_ sessions: [SessionRecord], reason: String, audit: any AuditEmitter, clock: any WallClock) throws {
        for session in sessions {
            // A connection that only forwarded has a row too; its end is a forward's end.
            if session.kind == SessionRecord.forwardKind {
                try audit.append(AuditEvent(
                    type: .forwardClose, time: clock.now(), outcome: .failure, actor: .init(user: session.user, method: "daemon"),
                    target: session.target, reason: reason, details: ["destination": session.target, "end_reason": "interrupted"]
                ))
                continue
            }
            try audit.append(AuditEvent(
                type: .sessionEnd, time: clock.now(), outcome: .failure, actor: .init(user: session.user, method: "daemon"),
                session: .init(id: session.id, login: session.login), target: session.target, reason: reason,
                details: [
                    "session_id": session.id.rawValue, "login": session.login, "end_reason": "interrupted", "recording": session.recording ?? "none",
                ]
            ))
        }
    }

    /// Closes every unfinished recording no live recorder holds (a live one keeps a lock on
    /// its marker, whichever node runs it, so this is safe on a shared directory).
    static func closeRecordings(in directory: String, keys: RecordingKeys, audit: any AuditEmitter, clock: any WallClock, logger: Logger) throws {
        for recovered in RecordingRecovery.recoverUnfinished(in: directory, keys: keys) {
            logger.warning("closed an unfinished recording", metadata: ["path": "\(recovered.path)"])
            try audit.append(AuditEvent(
                type: .recordingRecovered, time: clock.now(), outcome: .failure, actor: .init(user: nil, method: "daemon"),
                session: .init(id: SessionID(rawValue: recovered.sessionID)), reason: "the session was interrupted (bastiond stopped while it ran)",
                details: [
                    "session_id": recovered.sessionID, "recording": recovered.path, "recording_size": String(recovered.size),
                    "recording_sha256": recovered.sha256,
                ]
            ))
        }
    }
}
