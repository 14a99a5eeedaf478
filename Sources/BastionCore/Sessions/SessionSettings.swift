public import Foundation

/// How relayed sessions are recorded and bounded (`[recording]`, `[sessions]`).
public struct SessionSettings: Sendable {
    /// What happens when a recording cannot be created or written.
    public enum RecordingFailurePolicy: String, Sendable, CaseIterable {
        /// Refuse new sessions and end live ones: no recording, no session (the default).
        case reject
        /// The same for new sessions; named for what it does to live ones.
        case terminate
        /// Keep going unrecorded, with an audit alert.
        case `continue`

        public var failsClosed: Bool { self != .continue }
    }

    public var recordingDirectory: String
    public var captureInput: Bool
    /// `recording.capture_streams`: non-PTY channels' bytes kept exactly in `<id>.streams`.
    public var captureStreams = false
    public var onRecordingFailure: RecordingFailurePolicy
    public var idleTimeout: TimeInterval
    /// How long Bastion waits for a target to answer.
    public var connectTimeout: TimeInterval
    /// Tell the user when someone starts watching their session (`sessions.notify_watchers`).
    public var notifyWatchers: Bool

    public init(
        recordingDirectory: String, captureInput: Bool = false, onRecordingFailure: RecordingFailurePolicy = .reject,
        idleTimeout: TimeInterval = 30 * 60, connectTimeout: TimeInterval = 10, notifyWatchers: Bool = true
    ) {
        self.notifyWatchers = notifyWatchers
        self.recordingDirectory = recordingDirectory
        self.captureInput = captureInput
        self.onRecordingFailure = onRecordingFailure
        self.idleTimeout = idleTimeout
        self.connectTimeout = connectTimeout
    }
}
