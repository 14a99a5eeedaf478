/// The one error type of session recording (STYLE rule 8): a stable code the relay matches
/// to apply its policy (reject, terminate or continue), plus a detail for logs and the audit
/// record.
///
/// Equality is on the code only: the detail (paths, errno text) is diagnostic, not identity.
public struct RecordingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The recording could not be started: a directory could not be created, the file
        /// exists already, or the header could not be written (disk full, read-only store).
        public static let cannotCreate = Code("cannotCreate")
        /// The session ID cannot be used as a file name (empty, a path separator, a leading dot).
        public static let invalidSessionID = Code("invalidSessionID")
        /// A later write or the final fsync failed (ENOSPC, EIO): the file ends at the last
        /// whole line written before the failure and is incomplete from there on.
        public static let writeFailed = Code("writeFailed")
        /// `close()` was called on a recorder that is already closed.
        public static let closed = Code("closed")
        /// An unfinished recording found at start-up could not be repaired.
        public static let recoveryFailed = Code("recoveryFailed")
        /// A recording cannot be read back: missing, or sealed and not opening (no key for
        /// its master key version, or it fails authentication).
        public static let unreadable = Code("unreadable")
    }

    public let code: Code
    private let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "RecordingError.\(code): \(detail)" }

    public static func == (lhs: RecordingError, rhs: RecordingError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
