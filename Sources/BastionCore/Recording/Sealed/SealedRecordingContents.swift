/// A whole sealed file after verification: the authenticated plaintext prefix, and why
/// reading stopped where it did.
public struct SealedRecordingContents: Sendable {
    /// How a file ended.
    public enum Status: Hashable, Sendable {
        /// The final chunk verified and nothing follows it: the recording was closed cleanly.
        case complete
        /// Every chunk present verified but there is no final chunk: a crash, or a file
        /// still being written. The plaintext is a valid prefix of the recording.
        case truncated
        /// The chunk at this file offset failed verification (or bytes follow the final
        /// chunk). The plaintext is the authenticated prefix before it; nothing after is trusted.
        case corrupt(atFileOffset: Int)
    }

    /// The parsed header (master-key version and wrapped data key).
    public let header: SealedRecordingHeader
    /// The concatenated plaintext of every chunk that verified, in order.
    public let plaintext: [UInt8]
    public let status: Status
    /// Bytes of the file that verified: header plus whole authenticated chunks. A writer
    /// resuming this file truncates it to this length first.
    public let verifiedByteCount: Int
    /// Chunks that verified: the counter the next chunk must use.
    public let chunkCount: UInt64
}
