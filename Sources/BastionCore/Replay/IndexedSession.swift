public import Foundation

/// One ended session as auditors find it: who, where, when, how it ended, and the recording
/// with the SHA-256 its `session.end` audit record holds (the trusted copy of the hash).
public struct IndexedSession: Sendable, Equatable {
    public let id: SessionID
    public let user: String
    public let login: String
    public let target: String
    public let sourceAddress: String
    public let startedAt: Date
    public let duration: TimeInterval
    /// `exit_status` or `signal NAME`, when the target reported one.
    public let exitStatus: String?
    public let endReason: String
    // The recording and its hash as the index has them; whoever plays it puts in the copies
    // from the hash-chained `session.end` record first (the index is not trusted).
    /// The recording file, or nil when the session was not recorded.
    public var recording: String?
    public let recordingSize: Int
    /// Lowercase hex, from the `session.end` record.
    public var recordingSHA256: String?
    /// The elevation request whose grant the session ran under, if any.
    public let elevationRequest: String?
    /// Sequence number of the `session.end` audit record this entry was built from.
    public let auditSeq: Int64

    public init(
        id: SessionID, user: String, login: String, target: String, sourceAddress: String, startedAt: Date, duration: TimeInterval,
        exitStatus: String?, endReason: String, recording: String?, recordingSize: Int, recordingSHA256: String?,
        elevationRequest: String?, auditSeq: Int64
    ) {
        self.id = id
        self.user = user
        self.login = login
        self.target = target
        self.sourceAddress = sourceAddress
        self.startedAt = startedAt
        self.duration = duration
        self.exitStatus = exitStatus
        self.endReason = endReason
        self.recording = recording
        self.recordingSize = recordingSize
        self.recordingSHA256 = recordingSHA256
        self.elevationRequest = elevationRequest
        self.auditSeq = auditSeq
    }

    public var isElevated: Bool { elevationRequest != nil }
}

/// What `sessions` selects: every field optional, all combined.
public struct SessionQuery: Sendable, Equatable {
    public var user: String?
    public var target: String?
    public var since: Date?
    public var until: Date?
    /// Words that must all appear in what the session printed (full-text, ANSI stripped).
    public var grep: String?
    public var limit: Int

    public init(user: String? = nil, target: String? = nil, since: Date? = nil, until: Date? = nil, grep: String? = nil, limit: Int = 100) {
        self.user = user
        self.target = target
        self.since = since
        self.until = until
        self.grep = grep
        self.limit = limit
    }

    /// The FTS5 query for `grep`: each word a quoted phrase (so no word is read as an operator),
    /// all required. Nil when there is nothing to search for.
    public var fullTextQuery: String? {
        guard let grep else { return nil }
        let words = grep.split(whereSeparator: { $0.isWhitespace }).map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        return words.isEmpty ? nil : words.joined(separator: " ")
    }
}
