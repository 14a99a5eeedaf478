public import Foundation

/// What `SessionRecorder.close()` hands back for the audit record (`session.end`).
public struct RecordingSummary: Sendable, Equatable {
    /// The file's absolute path.
    public var path: String
    /// The final file size in bytes.
    public var size: Int
    /// Seconds from `RecordingMetadata.startedAt` to the close (never less than the last
    /// event's time).
    public var duration: TimeInterval
    /// SHA-256 of the final file, lowercase hex: what `sha256sum` prints.
    public var sha256: String
    /// Event lines written after the header.
    public var events: Int
    /// For a sealed recording, SHA-256 of its asciicast text (what `recording export` writes);
    /// `sha256` is the sealed file's, which anyone can check without a key.
    public var plaintextSHA256: String?
    /// For a channel without a terminal: `stdin_bytes`, `stdin_sha256`, `stdout_…`, `stderr_…`
    /// of the bytes that crossed, whatever the `.cast` shows of them.
    public var streams: [String: String]

    public init(
        path: String, size: Int, duration: TimeInterval, sha256: String, events: Int, plaintextSHA256: String? = nil,
        streams: [String: String] = [:]
    ) {
        self.path = path
        self.size = size
        self.duration = duration
        self.sha256 = sha256
        self.events = events
        self.plaintextSHA256 = plaintextSHA256
        self.streams = streams
    }
}
