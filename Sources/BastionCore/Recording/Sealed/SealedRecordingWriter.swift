public import BastionCrypto

/// Seals a recording's plaintext into chunks as it is produced; the caller appends the
/// returned bytes to the file (header first) and fsyncs as its durability policy says.
///
/// Each `seal` call yields whole chunks, so whatever prefix of the appended bytes reaches
/// the disk before a crash verifies up to its last whole chunk. The writer also hashes the
/// plaintext (the exact `.cast` text a reader returns) so the recorder can put that digest,
/// next to the file's own hash, in the `session.end` audit record.
///
/// Not `Sendable`: one writer per recording, driven by that recording's thread.
public final class SealedRecordingWriter {
    /// The file's header; write `header.encoded` before any chunk.
    public let header: SealedRecordingHeader
    /// Chunks sealed so far: the next chunk's nonce counter.
    public private(set) var chunkCount: UInt64
    /// Plaintext bytes sealed so far: the next chunk's plaintext offset.
    public private(set) var plaintextByteCount: UInt64
    /// SHA-256 of the whole plaintext, set by `finish`.
    public private(set) var plaintextSHA256: [UInt8]?

    private let chunkCipher: SealedRecordingChunkCipher
    private let plaintextHash = IncrementalSHA256()
    /// Set when sealing failed part-way: counter and hash then no longer match the bytes
    /// the caller holds, so the writer refuses to go on (the recorder fails closed).
    private var failure: SealedRecordingError?

    /// Starts a new file. `dataKey` is fresh for this file and `wrappedKey` is its wrapped
    /// form from the key provider; `fileID` is injected for tests and random otherwise.
    public convenience init(
        dataKey: SymmetricKey, wrappedKey: [UInt8], masterKeyVersion: UInt32,
        fileID: [UInt8] = SecureRandom.bytes(SealedRecordingHeader.fileIDByteCount)
    ) throws(SealedRecordingError) {
        let header = try SealedRecordingHeader(masterKeyVersion: masterKeyVersion, wrappedKey: wrappedKey, fileID: fileID)
        try self.init(header: header, dataKey: dataKey, chunkCount: 0, plaintextByteCount: 0)
    }

    /// Continues a file that crash recovery verified, so it can append a final chunk (an
    /// "interrupted" marker). The caller truncates the file to `contents.verifiedByteCount`
    /// first. The running hash is rebuilt from the verified plaintext.
    ///
    /// Refuses a `.complete` file. A `.corrupt` one is accepted because a power loss can
    /// leave a zero-filled tail; the caller must audit that and keep the cut bytes aside.
    /// Use the key that opened `contents`: the writer cannot tell a wrong one.
    public convenience init(resuming contents: SealedRecordingContents, dataKey: SymmetricKey) throws(SealedRecordingError) {
        guard contents.status != .complete else {
            throw SealedRecordingError(.invalidUse, "the recording is already complete")
        }
        try self.init(header: contents.header, dataKey: dataKey,
                      chunkCount: contents.chunkCount, plaintextByteCount: UInt64(contents.plaintext.count))
        plaintextHash.update(contents.plaintext)
    }

    private init(header: SealedRecordingHeader, dataKey: SymmetricKey, chunkCount: UInt64, plaintextByteCount: UInt64) throws(SealedRecordingError) {
        self.header = header
        self.chunkCount = chunkCount
        self.plaintextByteCount = plaintextByteCount
        self.chunkCipher = try SealedRecordingChunkCipher(header: header, dataKey: dataKey)
    }

    /// The framed chunks to append for `plaintext`: none for an empty input, several when
    /// it exceeds `SealedRecording.maximumChunkPlaintextByteCount`.
    public func seal(_ plaintext: [UInt8]) throws(SealedRecordingError) -> [UInt8] {
        try frames(for: plaintext, ends: Self.evenEnds(plaintext.count, isFinal: false), isFinal: false)
    }

    /// The framed chunks for `plaintext` cut where the caller says: `ends` are the chunks'
    /// exclusive end offsets, ascending, the last one `plaintext.count`, none more than
    /// `SealedRecording.maximumChunkPlaintextByteCount` after the previous (the recorder cuts
    /// at line ends and never inside a UTF-8 character). One allocation for all of them.
    public func seal(_ plaintext: [UInt8], cuttingAt ends: [Int]) throws(SealedRecordingError) -> [UInt8] {
        var previous = 0
        for end in ends {
            guard end > previous, end - previous <= SealedRecording.maximumChunkPlaintextByteCount else {
                throw SealedRecordingError(.invalidUse, "chunk ends must ascend by 1 to \(SealedRecording.maximumChunkPlaintextByteCount) bytes")
            }
            previous = end
        }
        guard previous == plaintext.count else { throw SealedRecordingError(.invalidUse, "chunk ends must end at the plaintext's end") }
        return try frames(for: plaintext, ends: ends, isFinal: false)
    }

    /// The last chunks, the final one flagged, holding `remaining` (which may be empty: the
    /// final chunk then carries only the flag). Sets `plaintextSHA256`; the writer is then spent.
    public func finish(_ remaining: [UInt8] = []) throws(SealedRecordingError) -> [UInt8] {
        let bytes = try frames(for: remaining, ends: Self.evenEnds(remaining.count, isFinal: true), isFinal: true)
        plaintextSHA256 = plaintextHash.finalize()
        return bytes
    }

    /// Seals `plaintext` as consecutive chunks into one freshly allocated array, written in
    /// place (no zero fill, no intermediate copies).
    /// Cuts every `maximumChunkPlaintextByteCount` bytes; a final seal has at least one chunk.
    private static func evenEnds(_ count: Int, isFinal: Bool) -> [Int] {
        let maximum = SealedRecording.maximumChunkPlaintextByteCount
        let ends = Array(stride(from: maximum, to: count, by: maximum)) + (count > 0 ? [count] : [])
        return ends.isEmpty && isFinal ? [0] : ends
    }

    private func frames(for plaintext: [UInt8], ends: [Int], isFinal: Bool) throws(SealedRecordingError) -> [UInt8] {
        if let failure { throw failure }
        guard plaintextSHA256 == nil else {
            throw SealedRecordingError(.invalidUse, "seal after finish")
        }
        let chunks = ends.count
        let overhead = SealedRecording.chunkHeaderByteCount + AESGCMCipher.tagByteCount
        var failure: SealedRecordingError?
        defer { self.failure = failure }
        let output = [UInt8](unsafeUninitializedCapacity: plaintext.count + chunks * overhead) { buffer, initialized in
            initialized = 0
            plaintext.withUnsafeBytes { input in
                let out = UnsafeMutableRawBufferPointer(buffer)
                do throws(SealedRecordingError) {
                    var start = 0
                    for index in 0 ..< chunks {
                        let piece = UnsafeRawBufferPointer(rebasing: input[start ..< ends[index]])
                        start = ends[index]
                        initialized += try chunkCipher.seal(
                            piece, counter: chunkCount, plaintextOffset: plaintextByteCount,
                            isFinal: isFinal && index == chunks - 1,
                            into: UnsafeMutableRawBufferPointer(rebasing: out[initialized...])
                        )
                        plaintextHash.update(piece)
                        chunkCount += 1
                        plaintextByteCount += UInt64(piece.count)
                    }
                } catch {
                    failure = error
                }
            }
        }
        if let failure { throw failure }
        return output
    }
}
