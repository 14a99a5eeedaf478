/// One unfinished recording that `RecordingRecovery` found at start-up: the audit record
/// (`session.recording.recovered`) reports it with the file's final size and digest.
public struct RecoveredRecording: Sendable, Equatable {
    /// The `.cast` file.
    public var path: String
    /// The session ID, taken from the file name.
    public var sessionID: String
    /// The size after repair, in bytes.
    public var size: Int
    /// SHA-256 of the file after repair, lowercase hex.
    public var sha256: String
    /// Set when the file could not be repaired; its marker is left in place so the next
    /// start tries again.
    public var error: RecordingError?

    public init(path: String, sessionID: String, size: Int, sha256: String, error: RecordingError? = nil) {
        self.path = path
        self.sessionID = sessionID
        self.size = size
        self.sha256 = sha256
        self.error = error
    }
}
