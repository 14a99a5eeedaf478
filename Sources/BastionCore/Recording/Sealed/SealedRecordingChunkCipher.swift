internal import BastionCrypto

/// The one place that turns (header, data key, counter, offset, last flag) into a chunk's
/// key, nonce and AAD, shared by writer and reader so the two cannot drift apart.
///
/// Not `Sendable`: it reuses its nonce and AAD buffers and an `AESGCMCipher`.
final class SealedRecordingChunkCipher {
    /// HKDF info: names the purpose and version, so this key is never reused for anything else.
    static let keyInfo = Array("bastion sealed recording v1".utf8)

    private let cipher: AESGCMCipher
    /// Counter ‖ last flag; rewritten per chunk. Owned raw memory, freed in `deinit`, so the
    /// hot path passes pointers without closures or copies.
    private let nonce: UnsafeMutableRawBufferPointer
    /// Header hash ‖ plaintext offset; only the offset is rewritten per chunk.
    private let aad: UnsafeMutableRawBufferPointer

    /// The chunk key is derived, not the data key itself, with the file's random ID as salt:
    /// if a key provider ever hands out the same data key twice, the two files still get
    /// different chunk keys, so counter nonces never repeat under one AES key.
    init(header: SealedRecordingHeader, dataKey: SymmetricKey) throws(SealedRecordingError) {
        let derived = HKDF.sha256(key: dataKey.bytes, salt: header.fileID, info: Self.keyInfo, outputByteCount: SymmetricKey.byteCount)
        do {
            cipher = try AESGCMCipher(key: SymmetricKey(bytes: derived))
        } catch {
            throw SealedRecordingError(.encryptionFailed, "\(error)")
        }
        nonce = .allocate(byteCount: AESGCMCipher.nonceByteCount, alignment: 1)
        nonce.initializeMemory(as: UInt8.self, repeating: 0)
        aad = .allocate(byteCount: SHA256.byteCount + 8, alignment: 1)
        aad.initializeMemory(as: UInt8.self, repeating: 0)
        aad.copyBytes(from: header.sha256)
    }

    deinit {
        nonce.deallocate()
        aad.deallocate()
    }

    /// Writes the whole framed chunk (length, offset, ciphertext, tag) at the start of
    /// `output`, which holds at least `chunkHeaderByteCount + plaintext.count + 16` bytes.
    func seal(
        _ plaintext: UnsafeRawBufferPointer, counter: UInt64, plaintextOffset: UInt64, isFinal: Bool,
        into output: UnsafeMutableRawBufferPointer
    ) throws(SealedRecordingError) -> Int {
        precondition(plaintext.count <= SealedRecording.maximumChunkPlaintextByteCount)
        let headerCount = SealedRecording.chunkHeaderByteCount
        SealedRecording.putBigEndian(UInt64(plaintext.count + AESGCMCipher.tagByteCount), width: 4, into: output, at: 0)
        SealedRecording.putBigEndian(plaintextOffset, width: 8, into: output, at: 4)
        prepare(counter: counter, plaintextOffset: plaintextOffset, isFinal: isFinal)
        let body = UnsafeMutableRawBufferPointer(rebasing: output[headerCount...])
        do {
            return try headerCount
                + cipher.seal(plaintext, nonce: UnsafeRawBufferPointer(nonce), authenticating: UnsafeRawBufferPointer(aad), into: body)
        } catch {
            throw SealedRecordingError(.encryptionFailed, "\(error)")
        }
    }

    /// Verifies `sealed` (ciphertext ‖ tag) as the chunk with this counter, offset and last
    /// flag, writing the plaintext to `output`. Throws on any mismatch; `output` then holds
    /// garbage the caller must not count.
    func open(
        _ sealed: UnsafeRawBufferPointer, counter: UInt64, plaintextOffset: UInt64, isFinal: Bool,
        into output: UnsafeMutableRawBufferPointer
    ) throws(CryptoError) -> Int {
        prepare(counter: counter, plaintextOffset: plaintextOffset, isFinal: isFinal)
        return try cipher.open(sealed, nonce: UnsafeRawBufferPointer(nonce), authenticating: UnsafeRawBufferPointer(aad), into: output)
    }

    /// Nonce = 88-bit big-endian counter ‖ last flag; AAD = header hash ‖ offset.
    private func prepare(counter: UInt64, plaintextOffset: UInt64, isFinal: Bool) {
        // Bytes 0...2 stay zero: a UInt64 counter fills the low 64 of the 88 bits.
        SealedRecording.putBigEndian(counter, width: 8, into: nonce, at: 3)
        nonce[11] = isFinal ? 1 : 0
        SealedRecording.putBigEndian(plaintextOffset, width: 8, into: aad, at: SHA256.byteCount)
    }
}
