/// The `details` keys that code reads back from audit records (the index, replay's integrity
/// check, chat-ops notices, live markers, the SIEM relay, the daemon's start), named once so a
/// writer and its readers cannot drift apart. Keys only ever written stay literals at the writer.
public struct AuditDetailKey: RawRepresentable, Sendable, Hashable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public static let sessionID = AuditDetailKey(rawValue: "session_id")
    public static let login = AuditDetailKey(rawValue: "login")
    public static let duration = AuditDetailKey(rawValue: "duration")
    public static let endReason = AuditDetailKey(rawValue: "end_reason")
    public static let exitStatus = AuditDetailKey(rawValue: "exit_status")
    public static let exitSignal = AuditDetailKey(rawValue: "exit_signal")
    public static let recording = AuditDetailKey(rawValue: "recording")
    public static let recordingSize = AuditDetailKey(rawValue: "recording_size")
    public static let recordingSHA256 = AuditDetailKey(rawValue: "recording_sha256")
    /// In `session.end`: how many `file.*` records the session wrote (the index searches
    /// for them only when there are some).
    public static let fileOperations = AuditDetailKey(rawValue: "file_operations")
    public static let elevationRequest = AuditDetailKey(rawValue: "elevation_request")
    public static let requestID = AuditDetailKey(rawValue: "request_id")
    public static let requester = AuditDetailKey(rawValue: "requester")
    public static let requestReason = AuditDetailKey(rawValue: "request_reason")
    public static let state = AuditDetailKey(rawValue: "state")
    public static let approver = AuditDetailKey(rawValue: "approver")
    public static let comment = AuditDetailKey(rawValue: "comment")
    public static let grantEnds = AuditDetailKey(rawValue: "grant_ends")
    public static let expires = AuditDetailKey(rawValue: "expires")
    public static let command = AuditDetailKey(rawValue: "command")
    public static let decision = AuditDetailKey(rawValue: "decision")
    public static let configSHA256 = AuditDetailKey(rawValue: "config_sha256")
}

extension Dictionary where Key == String, Value == String {
    /// `details[.sessionID]`: a detail by its typed key.
    public subscript(_ key: AuditDetailKey) -> String? {
        get { self[key.rawValue] }
        set { self[key.rawValue] = newValue }
    }
}
