/// The one error type of the sealed recording format (STYLE rule 8): a stable code, the
/// file offset where reading stopped (for the audit record and for recovery), and a detail.
///
/// Equality is on the code only: offset and detail are diagnostic, not identity.
public struct SealedRecordingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The file ends inside its header: nothing can be verified or decrypted.
        public static let truncatedHeader = Code("truncatedHeader")
        /// The header is not this format: wrong magic, a length out of range, or trailing bytes.
        public static let malformedHeader = Code("malformedHeader")
        /// The header names a format version this build does not read.
        public static let unsupportedVersion = Code("unsupportedVersion")
        /// A chunk failed verification: bad tag (tampering, wrong key, another file's header,
        /// reordering, a dropped chunk), a length out of range, a wrong plaintext offset,
        /// or bytes after the final chunk.
        public static let corrupt = Code("corrupt")
        /// Input the writer refuses: a key or wrapped key of the wrong size, or a chunk
        /// sealed after `finish`.
        public static let invalidUse = Code("invalidUse")
        /// Encryption failed inside OpenSSL; the recording cannot continue.
        public static let encryptionFailed = Code("encryptionFailed")
        /// Reading the recording's file descriptor failed.
        public static let readFailed = Code("readFailed")
    }

    public let code: Code
    /// Offset in the file of the header or chunk that failed, when there is one.
    public let fileOffset: Int?
    private let detail: String

    public init(_ code: Code, at fileOffset: Int? = nil, _ detail: String) {
        self.code = code
        self.fileOffset = fileOffset
        self.detail = detail
    }

    public var description: String {
        let place = fileOffset.map { " at byte \($0)" } ?? ""
        return "SealedRecordingError.\(code)\(place): \(detail)"
    }

    public static func == (lhs: SealedRecordingError, rhs: SealedRecordingError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
