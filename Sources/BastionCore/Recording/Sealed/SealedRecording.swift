public import BastionCrypto

/// An envelope-encrypted session recording: the `.cast` text cut into variable-length chunks,
/// each sealed with AES-256-GCM under a per-file data key, after age's STREAM construction
/// (counter nonces with a last-chunk flag, so reordering, dropping and truncation show).
///
/// ```
/// file   = header chunk* final-chunk
/// header = magic[8] ‖ bodyLength:u32 ‖ body            (see SealedRecordingHeader)
/// chunk  = ciphertextLength:u32 ‖ plaintextOffset:u64 ‖ ciphertext ‖ tag[16]
/// nonce  = chunkCounter:u88 ‖ lastFlag:u8               (0x01 on the final chunk only)
/// aad    = SHA-256(header) ‖ plaintextOffset:u64
/// key    = HKDF-SHA256(dataKey, salt: fileID, info: "bastion sealed recording v1")
/// ```
/// All integers are big-endian. Chunks are variable-length because the recorder flushes
/// whole asciicast lines every few milliseconds: after a crash every whole chunk on disk
/// still verifies, and a live reader can follow the file as it grows.
public enum SealedRecording {
    /// Largest plaintext per chunk; larger writes are split. It bounds what a reader
    /// allocates for one chunk, whatever the length field claims.
    public static let maximumChunkPlaintextByteCount = 1 << 20
    /// Largest acceptable ciphertext length field: the plaintext maximum plus the tag.
    public static let maximumChunkCiphertextByteCount = maximumChunkPlaintextByteCount + AESGCMCipher.tagByteCount
    /// Bytes before a chunk's ciphertext: the length (4) and the plaintext offset (8).
    public static let chunkHeaderByteCount = 12

    /// Whether `prefix` starts with the sealed format's magic. A plaintext `.cast` starts
    /// with `{`, so the first 8 bytes tell the two apart; fewer than 8 bytes is `false`.
    public static func isSealed(prefix: [UInt8]) -> Bool {
        prefix.count >= SealedRecordingHeader.magic.count
            && prefix.prefix(SealedRecordingHeader.magic.count).elementsEqual(SealedRecordingHeader.magic)
    }

    /// Verifies and decrypts a whole file held in memory.
    ///
    /// Chunk failures are not thrown: the result carries the authenticated prefix and a
    /// status saying why reading stopped, so recovery and forensics can still use it.
    /// Throws only when the header itself is unusable (cut, malformed, unknown version).
    public static func open(_ file: [UInt8], dataKey: SymmetricKey) throws(SealedRecordingError) -> SealedRecordingContents {
        let reader = SealedRecordingReader(dataKey: dataKey)
        reader.append(file)
        guard let header = try reader.readHeader() else {
            throw SealedRecordingError(.truncatedHeader, at: 0, "file of \(file.count) bytes ends inside the header")
        }
        var status = SealedRecordingContents.Status.truncated
        // The plaintext is never longer than the file, so one allocation holds it all and
        // each chunk decrypts in place; bytes of a chunk that fails are never counted.
        let plaintext = [UInt8](unsafeUninitializedCapacity: file.count) { buffer, initialized in
            initialized = 0
            do throws(SealedRecordingError) {
                while let frame = try reader.nextFrame() {
                    let output = UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[initialized...])
                    initialized += try reader.open(frame, into: output)
                }
                if reader.isComplete { status = .complete }
            } catch {
                status = .corrupt(atFileOffset: error.fileOffset ?? reader.verifiedByteCount)
            }
        }
        return SealedRecordingContents(
            header: header, plaintext: plaintext, status: status,
            verifiedByteCount: reader.verifiedByteCount, chunkCount: reader.chunkCount
        )
    }

    /// The length of the longest prefix of `file` that verifies (header plus whole
    /// authenticated chunks): where crash recovery truncates before appending a final chunk.
    public static func validPrefixLength(of file: [UInt8], dataKey: SymmetricKey) throws(SealedRecordingError) -> Int {
        try open(file, dataKey: dataKey).verifiedByteCount
    }
}
