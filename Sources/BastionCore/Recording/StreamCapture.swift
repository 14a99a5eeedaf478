import BastionCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `recording.capture_streams`: the byte-exact stdin, stdout and stderr of a channel without a
/// terminal, in `<session-id>.streams` beside its `.cast` (which keeps text and markers for
/// binary stretches). Sealed like the recording when recordings are (its own data key, wrapped
/// by the master key); `bastiond recording streams ID --to DIR` writes the three streams back.
///
/// Format (the plaintext): the line `BASTION-STREAMS 1\n`, then records of one byte for the
/// stream (0 stdin, 1 stdout, 2 stderr), a 4-byte big-endian length and that many bytes, in
/// the order they crossed. Owned by the recording's writer thread, like the `.cast`.
final class StreamCaptureFile: @unchecked Sendable {
    static let magic = Array("BASTION-STREAMS 1\n".utf8)
    static let suffix = ".streams"

    let path: String
    private let fd: Int32
    private let sealer: RecordingSealer?
    private var buffer: [UInt8] = []
    private let fileHash = IncrementalSHA256()
    private(set) var size = 0
    private var isClosed = false

    /// Creates the file (0600, never replacing one) and writes its header.
    init(castPath: String, keys: RecordingKeys?) throws(RecordingError) {
        path = String(castPath.dropLast(".cast".count)) + Self.suffix
        fd = try RecordingFileSystem.createExclusive(path)
        do {
            if let keys, keys.sealsNewRecordings {
                let writer = try keys.newRecording()
                let sealing = RecordingSealer(writer)
                sealer = sealing
                try write(writer.header.encoded + (try sealing.seal(Self.magic)))
            } else {
                sealer = nil
                try write(Self.magic)
            }
        } catch {
            _ = close(fd)
            _ = unlink(path)
            throw RecordingError(.cannotCreate, "\(path): \(error)")
        }
    }

    /// Buffers one chunk of `stream`.
    func append(_ bytes: [UInt8], stream: StreamDigests.Stream) {
        guard !bytes.isEmpty else { return }
        let code: UInt8 = switch stream {
        case .stdin: 0
        case .stdout: 1
        case .stderr: 2
        }
        let length = UInt32(bytes.count)
        buffer.append(code)
        buffer.append(contentsOf: [UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)])
        buffer.append(contentsOf: bytes)
    }

    var pendingBytes: Int { buffer.count }

    /// Writes what is buffered (sealed in chunks when sealing).
    func flush() throws(RecordingError) {
        guard !buffer.isEmpty else { return }
        let plaintext = buffer
        buffer.removeAll(keepingCapacity: true)
        do {
            try write(sealer.map { try $0.seal(plaintext) } ?? plaintext)
        } catch let error as RecordingError {
            throw error
        } catch {
            throw RecordingError(.writeFailed, "sealing \(path): \(error)")
        }
    }

    /// Flushes, writes the final chunk, fsyncs and closes: size and SHA-256 of the file.
    func finish() throws(RecordingError) -> (size: Int, sha256: String) {
        try flush()
        if let sealer {
            do { try write(try sealer.finish()) } catch let error as RecordingError { throw error } catch {
                throw RecordingError(.writeFailed, "sealing \(path): \(error)")
            }
        }
        guard fsync(fd) == 0 else { throw RecordingError(.writeFailed, "fsync \(path): \(RecordingFileSystem.errorText(errno))") }
        abandon()
        return (size, Hex.string(fileHash.finalize()))
    }

    /// Closes the descriptor once (after a failure, what was written stays for recovery).
    func abandon() {
        guard !isClosed else { return }
        isClosed = true
        _ = close(fd)
    }

    private func write(_ bytes: [UInt8]) throws(RecordingError) {
        if let error = RecordingFileSystem.writeAll(fd, bytes) {
            throw RecordingError(.writeFailed, "write \(path): \(RecordingFileSystem.errorText(error))")
        }
        fileHash.update(bytes)
        size += bytes.count
    }

    // MARK: - Reading back

    /// The three streams of a `.streams` file's plaintext; nil unless it is one. A cut-short
    /// last record (a crash) yields what it holds.
    static func decode(_ plaintext: [UInt8]) -> [StreamDigests.Stream: [UInt8]]? {
        guard plaintext.starts(with: magic) else { return nil }
        var streams: [StreamDigests.Stream: [UInt8]] = [.stdin: [], .stdout: [], .stderr: []]
        var index = magic.count
        while index + 5 <= plaintext.count {
            let stream: StreamDigests.Stream
            switch plaintext[index] {
            case 0: stream = .stdin
            case 1: stream = .stdout
            case 2: stream = .stderr
            default: return nil
            }
            let length = plaintext[(index + 1)..<(index + 5)].reduce(0) { $0 << 8 | Int($1) }
            let start = index + 5
            let end = min(start + length, plaintext.count)
            streams[stream]!.append(contentsOf: plaintext[start..<end])
            index = end
        }
        return streams
    }
}

/// What `bastiond recording streams` hands back: a session's three streams, byte for byte.
public struct CapturedStreams: Sendable, Equatable {
    public var stdin: [UInt8]
    public var stdout: [UInt8]
    public var stderr: [UInt8]

    /// The `.streams` file of the recording at `castPath`, opened (and unsealed) with `keys`.
    public static func read(castPath: String, keys: RecordingKeys?) throws(RecordingError) -> CapturedStreams {
        let path = String(castPath.dropLast(".cast".count)) + StreamCaptureFile.suffix
        let plaintext = try keys.plaintext(atPath: path)
        guard let streams = StreamCaptureFile.decode(plaintext) else {
            throw RecordingError(.unreadable, "\(path) is not a stream capture")
        }
        return CapturedStreams(stdin: streams[.stdin] ?? [], stdout: streams[.stdout] ?? [], stderr: streams[.stderr] ?? [])
    }

    /// The capture file beside a recording, whether or not it exists.
    public static func path(castPath: String) -> String {
        String(castPath.dropLast(".cast".count)) + StreamCaptureFile.suffix
    }
}
