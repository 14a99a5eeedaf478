/// One authenticated chunk of a sealed recording, as a reader yields it.
public struct SealedRecordingChunk: Hashable, Sendable {
    /// The chunk's plaintext; only ever built from a chunk whose tag verified.
    public let plaintext: [UInt8]
    /// Offset of the chunk's first byte in the whole plaintext (authenticated via the AAD).
    public let plaintextOffset: UInt64
    /// File offset just past this chunk: a live reader can resume or checkpoint here.
    public let fileOffsetAfter: Int
    /// Whether this is the final chunk of a cleanly closed recording.
    public let isFinal: Bool
}
