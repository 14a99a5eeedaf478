public import Foundation

/// What auditors' commands need from the recordings side, without knowing about SQLite or
/// the audit chain's storage: find sessions, and decide whether a recording is intact.
public protocol SessionArchive: Sendable {
    /// Sessions matching `query`, newest first, including any that ended a moment ago.
    func search(_ query: SessionQuery) throws -> [IndexedSession]
    func session(id: SessionID) throws -> IndexedSession?
    /// Whether `session`'s recording is the one its audit record describes.
    func verify(_ session: IndexedSession) -> RecordingVerdict
    /// The recording's bytes, read once and checked as read: what is served is exactly what
    /// was hashed (no window between a check of the file and a second read of it).
    func readVerified(_ session: IndexedSession) -> Result<Data, RecordingRefusal>
    /// Opens sealed recordings (nil: only plain ones can be read).
    var recordingKeys: RecordingKeys? { get }
    /// The session's `file.*` records (SFTP and scp, file by file), oldest first.
    func fileOperations(of session: SessionID) throws -> [SessionFileOperation]
}

extension SessionArchive {
    public var recordingKeys: RecordingKeys? { nil }
    public func fileOperations(of session: SessionID) throws -> [SessionFileOperation] { [] }
}

/// Why a recording may not be served, in words for the auditor (the session is named).
public struct RecordingRefusal: Error, Sendable, Equatable {
    public var reason: String

    public init(reason: String) {
        self.reason = reason
    }
}

/// The outcome of checking a recording before replay or export.
public enum RecordingVerdict: Sendable, Equatable {
    case intact(path: String)
    /// Why not, in words for the auditor; the session is named.
    case refused(String)
}

/// Issues single-use links that sign an auditor in to the web view (`ssh … web`).
public protocol WebSignInIssuer: Sendable {
    /// A link valid for a minute, for `user`; the issue is audited by the implementation.
    func signInLink(for user: User, connection: AuditEvent.Connection?) throws -> String
}
