public import BastionCrypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Verifies and decrypts a sealed recording incrementally, from bytes handed to it or
/// read from a file descriptor: suitable for a live SIEM stream following a growing file.
///
/// Bytes go in with `append` (or `readAvailable`); `next()` yields each chunk once it is
/// whole and authenticated, and `nil` while more bytes are needed. A failure is sticky:
/// after one chunk fails, `next()` keeps throwing that error and never yields again.
/// Not `Sendable`: one reader per consumer thread.
public final class SealedRecordingReader {
    /// A chunk whose framing checked out and whose bytes are all present, not yet verified.
    struct Frame {
        let start: Int
        let ciphertextCount: Int
    }

    private let dataKey: SymmetricKey
    private var chunkCipher: SealedRecordingChunkCipher?
    /// Unconsumed input starts at `bufferStart`; consumed bytes are dropped lazily.
    private var buffer: [UInt8] = []
    private var bufferStart = 0
    private var failure: SealedRecordingError?

    /// The header, once enough bytes have arrived to parse it.
    public private(set) var header: SealedRecordingHeader?
    /// File offset just past the header and every chunk verified so far.
    public private(set) var verifiedByteCount = 0
    /// Chunks verified so far: the counter the next chunk must carry.
    public private(set) var chunkCount: UInt64 = 0
    /// Plaintext bytes verified so far: the offset the next chunk must carry.
    public private(set) var plaintextByteCount: UInt64 = 0
    /// Whether the final chunk has verified: the recording was closed cleanly.
    public private(set) var isComplete = false

    public init(dataKey: SymmetricKey) {
        self.dataKey = dataKey
    }

    /// A reader that starts mid-file, at chunk `chunkCount` beginning at `fileOffset` (a live
    /// SIEM stream's cursor), with the header already read. The next chunk's stated plaintext
    /// offset is taken as given: it is bound into that chunk's tag, so a wrong one fails there.
    public init(dataKey: SymmetricKey, header: SealedRecordingHeader, chunkCount: UInt64, fileOffset: Int) throws(SealedRecordingError) {
        self.dataKey = dataKey
        self.header = header
        self.chunkCipher = try SealedRecordingChunkCipher(header: header, dataKey: dataKey)
        self.chunkCount = chunkCount
        self.verifiedByteCount = fileOffset
        self.acceptsStatedOffset = true
    }

    /// Set by the mid-file initializer until the first chunk is read.
    private var acceptsStatedOffset = false

    /// Bytes received but not yet verified (a chunk still being written, or junk).
    public var pendingByteCount: Int { buffer.count - bufferStart }

    /// Adds the next bytes of the file.
    public func append(_ bytes: [UInt8]) {
        if bufferStart == buffer.count {
            buffer = bytes  // nothing pending: take the array as is, no copy
            bufferStart = 0
        } else {
            compact()
            buffer.append(contentsOf: bytes)
        }
    }

    /// Reads up to `maximumByteCount` bytes from `fd` (one `read(2)`) and appends them.
    /// Returns the count read; 0 means end of file for now (a live file may still grow).
    public func readAvailable(from fd: Int32, maximumByteCount: Int = 1 << 20) throws(SealedRecordingError) -> Int {
        precondition(maximumByteCount > 0)
        compact()
        let old = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: maximumByteCount))
        var count: Int
        repeat {
            count = buffer.withUnsafeMutableBytes { raw in read(fd, raw.baseAddress.map { $0 + old }, maximumByteCount) }
        } while count < 0 && errno == EINTR
        let errorNumber = errno
        buffer.removeSubrange((old + max(count, 0))...)
        guard count >= 0 else {
            throw SealedRecordingError(.readFailed, at: verifiedByteCount + pendingByteCount, "read: errno \(errorNumber)")
        }
        return count
    }

    /// The next authenticated chunk; `nil` when more bytes are needed or, after the final
    /// chunk, when the file has ended. Throws `.corrupt` (sticky) on any verification
    /// failure, and the header errors of `SealedRecordingHeader.parse`.
    public func next() throws(SealedRecordingError) -> SealedRecordingChunk? {
        guard try readHeader() != nil, let frame = try nextFrame() else { return nil }
        let offset = plaintextByteCount
        var failure: SealedRecordingError?
        var isFinal = false
        let plaintext = [UInt8](unsafeUninitializedCapacity: frame.ciphertextCount - AESGCMCipher.tagByteCount) { output, initialized in
            do throws(SealedRecordingError) {
                initialized = try open(frame, into: UnsafeMutableRawBufferPointer(output))
                isFinal = isComplete
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return SealedRecordingChunk(plaintext: plaintext, plaintextOffset: offset, fileOffsetAfter: verifiedByteCount, isFinal: isFinal)
    }

    /// Parses the header if it is not yet known; `nil` while it is incomplete.
    func readHeader() throws(SealedRecordingError) -> SealedRecordingHeader? {
        if let failure { throw failure }
        if let header { return header }
        do throws(SealedRecordingError) {
            let parsed = try buffer.withUnsafeBytes { raw in
                Result { () throws(SealedRecordingError) in
                    try SealedRecordingHeader.parse(UnsafeRawBufferPointer(rebasing: raw[bufferStart...]))
                }
            }.get()
            guard let parsed else { return nil }
            chunkCipher = try SealedRecordingChunkCipher(header: parsed, dataKey: dataKey)
            header = parsed
            bufferStart += parsed.byteCount
            verifiedByteCount = parsed.byteCount
            return parsed
        } catch {
            failure = error
            throw error
        }
    }

    /// Checks the next chunk's framing (length bounds, expected plaintext offset, nothing
    /// after the final chunk) before any allocation; `nil` while its bytes are incomplete.
    func nextFrame() throws(SealedRecordingError) -> Frame? {
        if let failure { throw failure }
        guard header != nil else { return nil }
        let fileOffset = verifiedByteCount
        func corrupt(_ detail: String) -> SealedRecordingError {
            let error = SealedRecordingError(.corrupt, at: fileOffset, detail)
            failure = error
            return error
        }
        if isComplete {
            guard pendingByteCount == 0 else { throw corrupt("\(pendingByteCount) bytes after the final chunk") }
            return nil
        }
        let fields = buffer.withUnsafeBytes { raw in
            (SealedRecording.bigEndian(raw, at: bufferStart, width: 4), SealedRecording.bigEndian(raw, at: bufferStart + 4, width: 8))
        }
        guard let length = fields.0, let offset = fields.1 else { return nil }
        // Checked before waiting for or allocating anything: a forged length costs nothing.
        guard length >= UInt64(AESGCMCipher.tagByteCount), length <= UInt64(SealedRecording.maximumChunkCiphertextByteCount) else {
            throw corrupt("chunk length \(length) out of range")
        }
        if acceptsStatedOffset {
            plaintextByteCount = offset
            acceptsStatedOffset = false
        }
        guard offset == plaintextByteCount else {
            throw corrupt("chunk claims plaintext offset \(offset), expected \(plaintextByteCount)")
        }
        let start = bufferStart + SealedRecording.chunkHeaderByteCount
        guard buffer.count - start >= Int(length) else { return nil }
        return Frame(start: start, ciphertextCount: Int(length))
    }

    /// Verifies `frame` and writes its plaintext to `output`, trying the chunk as non-final
    /// first and then as final (age's STREAM does the same: only the tag knows which it is).
    /// Advances past the chunk only if one of the two verified.
    func open(_ frame: Frame, into output: UnsafeMutableRawBufferPointer) throws(SealedRecordingError) -> Int {
        if let failure { throw failure }
        guard let chunkCipher else { preconditionFailure("open before the header") }
        let counter = chunkCount
        let offset = plaintextByteCount
        let opened: (count: Int, isFinal: Bool)? = buffer.withUnsafeBytes { raw in
            let sealed = UnsafeRawBufferPointer(rebasing: raw[frame.start ..< frame.start + frame.ciphertextCount])
            for isFinal in [false, true] {
                if let count = try? chunkCipher.open(sealed, counter: counter, plaintextOffset: offset, isFinal: isFinal, into: output) {
                    return (count, isFinal)
                }
            }
            return nil
        }
        guard let opened else {
            let error = SealedRecordingError(.corrupt, at: verifiedByteCount, "chunk \(counter) failed authentication")
            failure = error
            throw error
        }
        bufferStart = frame.start + frame.ciphertextCount
        verifiedByteCount += SealedRecording.chunkHeaderByteCount + frame.ciphertextCount
        chunkCount += 1
        plaintextByteCount += UInt64(opened.count)
        isComplete = opened.isFinal
        return opened.count
    }

    /// Drops consumed bytes once they dominate the buffer, so a long live stream does not
    /// grow without bound and a whole file handed over at once is never copied.
    private func compact() {
        guard bufferStart > 0 else { return }
        if bufferStart == buffer.count {
            buffer.removeAll(keepingCapacity: true)
        } else {
            buffer.removeSubrange(0 ..< bufferStart)
        }
        bufferStart = 0
    }
}
