import BastionCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The file side of one recording: creates the `.cast` file and its `.cast.open` marker,
/// encodes events into whole lines, and writes them.
///
/// Owned by exactly one thread at a time: `SessionRecorder.init` creates it and writes the
/// header, then moves it into the writer thread, which alone touches it until it ends. It
/// holds file descriptors, so copies must not outlive that hand-over.
struct RecordingFileWriter: Sendable {
    /// The `.cast` file.
    let path: String
    /// The sidecar whose presence means "not closed cleanly" (see `RecordingRecovery`).
    let markerPath: String
    private let folder: String
    private let fd: Int32
    /// Held open with an exclusive `flock` for the recording's lifetime, so recovery in
    /// another process (or an HA peer on shared storage) never "repairs" a live recording;
    /// the kernel drops the lock when the process dies.
    private let markerFD: Int32
    private var buffer: [UInt8] = []
    /// Where each line in `buffer` ends (just past its newline), ascending: the sealer cuts
    /// chunks there without searching the bytes for newlines.
    private var lineEnds: [Int] = []
    private var bufferedEvents = 0
    /// Output and input are separate byte streams: a character may straddle two chunks of
    /// one, never a chunk of each.
    private var output = AsciicastEscaper()
    private var errorOutput = AsciicastEscaper()
    private var input = AsciicastEscaper()
    /// For a channel without a terminal: the digests of its three streams, and the binary
    /// stretch being counted (shown as one marker once it ends).
    private let digests: StreamDigests?
    private var binaryStretch: (stream: StreamDigests.Stream, bytes: Int, time: TimeInterval)?
    /// `recording.capture_streams`: the channel's bytes, exactly, beside the `.cast`.
    private let capture: StreamCaptureFile?
    private var lastTime: TimeInterval = 0
    /// Bytes handed to write(2) successfully: always whole lines.
    private(set) var size: Int
    /// Event lines written, header excluded.
    private(set) var events = 0
    /// Seals what is written when recordings are encrypted; nil for a plain `.cast`.
    private let sealer: RecordingSealer?

    /// Bytes encoded but not yet written.
    var pendingBytes: Int { buffer.count + (capture?.pendingBytes ?? 0) }

    /// Creates `<directory>/YYYY/MM/DD/<sessionID>.cast` with its marker and writes and
    /// fsyncs the header, so a recording that could not start is an error here, before the
    /// session is let through.
    init(directory: String, metadata: RecordingMetadata, keys: RecordingKeys? = nil, captureStreams: Bool = false) throws(RecordingError) {
        guard RecordingFileSystem.isValidSessionID(metadata.sessionID) else {
            throw RecordingError(.invalidSessionID, "session ID \(AsciicastLine.string(metadata.sessionID)) is not a safe file name")
        }
        let folder = directory + "/" + RecordingFileSystem.datePath(for: metadata.startedAt)
        try RecordingFileSystem.makeDirectories(folder)
        let path = folder + "/" + metadata.sessionID + ".cast"
        let markerPath = path + ".open"

        let markerFD = try RecordingFileSystem.createExclusive(markerPath)
        _ = flock(markerFD, LOCK_EX | LOCK_NB)
        let fd: Int32
        do {
            fd = try RecordingFileSystem.createExclusive(path)
        } catch {
            _ = close(markerFD)
            _ = unlink(markerPath)
            throw error
        }
        var header = Array((AsciicastLine.header(metadata) + "\n").utf8)
        var sealer: RecordingSealer?
        if let keys, keys.sealsNewRecordings {
            do {
                let writer = try keys.newRecording()
                let sealing = RecordingSealer(writer)
                header = writer.header.encoded + (try sealing.seal(header))
                sealer = sealing
            } catch {
                _ = close(fd)
                _ = unlink(path)
                _ = close(markerFD)
                _ = unlink(markerPath)
                throw RecordingError(.cannotCreate, "sealing \(path): \(error)")
            }
        }
        var failure = RecordingFileSystem.writeAll(fd, header)
        if failure == nil, fsync(fd) != 0 { failure = errno }
        if let failure {
            _ = close(fd)
            _ = unlink(path)
            _ = close(markerFD)
            _ = unlink(markerPath)
            throw RecordingError(.cannotCreate, "writing header of \(path): \(RecordingFileSystem.errorText(failure))")
        }
        var capture: StreamCaptureFile?
        if captureStreams, metadata.streams {
            do {
                capture = try StreamCaptureFile(castPath: path, keys: keys)
            } catch {
                _ = close(fd)
                _ = unlink(path)
                _ = close(markerFD)
                _ = unlink(markerPath)
                throw error
            }
        }
        RecordingFileSystem.syncDirectory(folder)

        self.capture = capture
        self.path = path
        self.markerPath = markerPath
        self.folder = folder
        self.fd = fd
        self.markerFD = markerFD
        self.size = header.count
        self.sealer = sealer
        self.digests = metadata.streams ? StreamDigests() : nil
        sealer?.written(header)
    }

    /// Encodes one event into the buffer. Byte events that decode to nothing yet (only the
    /// start of a multi-byte character) produce no line until the rest arrives.
    mutating func append(_ entry: RecordingQueue.Entry) {
        switch entry.event {
        case .output(let bytes):
            appendOutput(bytes, stream: .stdout, time: entry.time)
        case .errorOutput(let bytes):
            appendOutput(bytes, stream: .stderr, time: entry.time)
        case .input(let bytes):
            endBinaryStretch()
            digests?.add(bytes, to: .stdin)
            capture?.append(bytes, stream: .stdin)
            let line = beginLine(time: entry.time, code: .input)
            input.append(bytes, to: &buffer)
            endLine(line)
        case .uncapturedInput(let bytes):
            digests?.add(bytes, to: .stdin)
            capture?.append(bytes, stream: .stdin)
        case .resize(let columns, let rows):
            endBinaryStretch()
            let line = beginLine(time: entry.time, code: .resize)
            AsciicastEscaper.appendComplete(Array("\(columns)x\(rows)".utf8), to: &buffer)
            endLine(line)
        case .marker(let label):
            endBinaryStretch()
            appendMarker(label, time: entry.time)
        }
    }

    /// Output as an `"o"` line, except binary output of a channel without a terminal: it is
    /// counted (and hashed) but not escaped into the `.cast`, where it would cost the most CPU
    /// of anything and come out lossy; a marker says how many bytes the stretch held.
    private mutating func appendOutput(_ bytes: [UInt8], stream: StreamDigests.Stream, time: TimeInterval) {
        if let digests {
            digests.add(bytes, to: stream)
            capture?.append(bytes, stream: stream)
            if StreamContent.isBinary(bytes) {
                if binaryStretch?.stream != stream {
                    endBinaryStretch()
                    // A character the last text chunk began can no longer complete.
                    let line = beginLine(time: time, code: .output)
                    if stream == .stdout { output.finish(to: &buffer) } else { errorOutput.finish(to: &buffer) }
                    endLine(line)
                    binaryStretch = (stream, 0, time)
                }
                binaryStretch?.bytes += bytes.count
                return
            }
            endBinaryStretch()
        }
        let line = beginLine(time: time, code: .output)
        if stream == .stdout { output.append(bytes, to: &buffer) } else { errorOutput.append(bytes, to: &buffer) }
        endLine(line)
    }

    /// The marker standing for a binary stretch that just ended, at the time it began.
    private mutating func endBinaryStretch() {
        guard let stretch = binaryStretch else { return }
        binaryStretch = nil
        appendMarker("binary \(stretch.stream.rawValue): \(stretch.bytes) bytes not shown", time: stretch.time)
    }

    private mutating func appendMarker(_ label: String, time: TimeInterval) {
        let line = beginLine(time: time, code: .marker)
        AsciicastEscaper.appendComplete(Array(label.utf8), to: &buffer)
        endLine(line, evenIfEmpty: true)
    }

    /// Writes the buffered lines with write(2). On failure the file is cut back to the last
    /// whole line, so it stays readable up to there.
    mutating func flush() throws(RecordingError) {
        try capture?.flush()
        guard !buffer.isEmpty else { return }
        var bytes = buffer
        if let sealer {
            do { bytes = try sealer.seal(buffer, lineEnds: lineEnds) } catch {
                buffer.removeAll()
                lineEnds.removeAll()
                bufferedEvents = 0
                throw RecordingError(.writeFailed, "sealing \(path): \(error)")
            }
        }
        if let error = RecordingFileSystem.writeAll(fd, bytes) {
            _ = ftruncate(fd, off_t(size))
            buffer.removeAll()
            lineEnds.removeAll()
            bufferedEvents = 0
            throw RecordingError(.writeFailed, "write \(path): \(RecordingFileSystem.errorText(error))")
        }
        size += bytes.count
        sealer?.written(bytes)
        events += bufferedEvents
        buffer.removeAll(keepingCapacity: true)
        lineEnds.removeAll(keepingCapacity: true)
        bufferedEvents = 0
    }

    /// The clean end: flushes held-back partial characters as U+FFFD, writes, fsyncs, hashes
    /// the file, and removes the marker. On failure the marker stays, so the next start's
    /// recovery reports the file.
    mutating func finish(duration: TimeInterval) -> Result<RecordingSummary, RecordingError> {
        endBinaryStretch()
        var line = beginLine(time: lastTime, code: .output)
        output.finish(to: &buffer)
        endLine(line)
        line = beginLine(time: lastTime, code: .output)
        errorOutput.finish(to: &buffer)
        endLine(line)
        line = beginLine(time: lastTime, code: .input)
        input.finish(to: &buffer)
        endLine(line)
        do throws(RecordingError) {
            try flush()
            if let sealer {
                // The final chunk: without it a reader knows the file was cut short.
                let last: [UInt8]
                do { last = try sealer.finish() } catch { throw RecordingError(.writeFailed, "sealing \(path): \(error)") }
                if let error = RecordingFileSystem.writeAll(fd, last) {
                    _ = ftruncate(fd, off_t(size))
                    throw RecordingError(.writeFailed, "write \(path): \(RecordingFileSystem.errorText(error))")
                }
                size += last.count
                sealer.written(last)
            }
            guard fsync(fd) == 0 else {
                throw RecordingError(.writeFailed, "fsync \(path): \(RecordingFileSystem.errorText(errno))")
            }
            // A sealed file was hashed as it was written (the bytes were in hand); a plain one is
            // hashed from the file, as before.
            let file: (size: Int, sha256: String)
            if let sealer {
                file = (size, sealer.fileSHA256)
            } else {
                file = try RecordingFileSystem.sha256Hex(ofFile: fd).get()
            }
            var streams = digests?.summary() ?? [:]
            if let capture {
                let captured = try capture.finish()
                streams["streams_file"] = capture.path
                streams["streams_size"] = String(captured.size)
                streams["streams_sha256"] = captured.sha256
            }
            let summary = RecordingSummary(
                path: path,
                size: file.size,
                duration: max(duration, lastTime),
                sha256: file.sha256,
                events: events,
                plaintextSHA256: sealer?.plaintextSHA256,
                streams: streams
            )
            _ = close(fd)
            _ = unlink(markerPath)
            _ = close(markerFD)
            RecordingFileSystem.syncDirectory(folder)
            return .success(summary)
        } catch {
            closeKeepingMarker()
            return .failure(error)
        }
    }

    /// Closes both descriptors and leaves the marker for recovery: after a write failure,
    /// and in the test hook that imitates `kill -9` (buffered lines are lost, as they would be).
    func closeKeepingMarker() {
        capture?.abandon()
        _ = close(fd)
        _ = close(markerFD)
    }

    /// Where a line being built starts in the buffer, and where its data starts.
    private struct OpenLine {
        var start: Int
        var dataStart: Int
        var time: TimeInterval
    }

    /// Appends `[time, "code", "`; the caller appends the escaped data, then calls `endLine`.
    private mutating func beginLine(time: TimeInterval, code: AsciicastLine.Code) -> OpenLine {
        let start = buffer.count
        AsciicastLine.appendEventPrefix(time: time, code: code, to: &buffer)
        return OpenLine(start: start, dataStart: buffer.count, time: time)
    }

    /// Closes the line with `"]` and a newline, or takes it back out if no data was appended
    /// (unless `evenIfEmpty`).
    private mutating func endLine(_ line: OpenLine, evenIfEmpty: Bool = false) {
        guard evenIfEmpty || buffer.count > line.dataStart else {
            buffer.removeSubrange(line.start...)
            return
        }
        AsciicastLine.appendEventSuffix(to: &buffer)
        buffer.append(UInt8(ascii: "\n"))
        lineEnds.append(buffer.count)
        bufferedEvents += 1
        lastTime = line.time
    }
}

/// The sealing side of an encrypted recording, owned by the recording's writer thread like
/// the file descriptors (hence `@unchecked Sendable`: it moves once, with the writer, and is
/// never shared).
final class RecordingSealer: @unchecked Sendable {
    /// Plaintext per chunk: a live SIEM stream sends one chunk per `session.data` event, and
    /// those stay within 32 KiB.
    static let chunkBytes = 32 * 1_024
    private let writer: SealedRecordingWriter
    /// SHA-256 of every byte written to the file, header included: `session.end`'s hash of the
    /// sealed file, without reading a gigabyte back at the end.
    private let fileHash = IncrementalSHA256()

    init(_ writer: SealedRecordingWriter) {
        self.writer = writer
    }

    /// Counts `bytes` as written to the file.
    func written(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { fileHash.update($0) }
    }

    /// Lowercase hex SHA-256 of everything written.
    var fileSHA256: String { Hex.string(fileHash.finalize()) }

    /// The file's header: the wrapped data key and what every chunk is bound to.
    var header: SealedRecordingHeader { writer.header }

    /// `plaintext` as framed chunks of at most ``chunkBytes``, cut after a newline where there
    /// is one (so a crash leaves whole lines), else never inside a UTF-8 character.
    /// `lineEnds`, when the caller knows them (offsets just past each newline, ascending), saves
    /// searching the bytes for newlines.
    func seal(_ plaintext: [UInt8], lineEnds: [Int]? = nil) throws -> [UInt8] {
        let ends = Self.chunkEnds(plaintext, lineEnds: lineEnds)
        return ends.isEmpty ? [] : try writer.seal(plaintext, cuttingAt: ends)
    }

    /// Where ``seal(_:lineEnds:)`` cuts `plaintext`: the exclusive end of each chunk.
    static func chunkEnds(_ plaintext: [UInt8], lineEnds: [Int]?) -> [Int] {
        var ends: [Int] = []
        var start = 0
        var nextLine = 0
        while start < plaintext.count {
            var end = min(start + chunkBytes, plaintext.count)
            if end < plaintext.count {
                let newline: Int?
                if let lineEnds {
                    // The last line end in (start, end]: the lines are ascending, so one pass.
                    while nextLine < lineEnds.count, lineEnds[nextLine] <= end { nextLine += 1 }
                    newline = nextLine > 0 && lineEnds[nextLine - 1] > start ? lineEnds[nextLine - 1] - 1 : nil
                } else {
                    newline = lastNewline(in: plaintext, from: start, to: end)
                }
                if let newline {
                    end = newline + 1
                } else {
                    // Back off to the start of a character (continuation bytes are 10xxxxxx).
                    var cut = end
                    while cut > start, plaintext[cut] & 0xC0 == 0x80 { cut -= 1 }
                    if cut > start { end = cut }
                }
            }
            ends.append(end)
            start = end
        }
        return ends
    }

    /// The offset of the last newline in `bytes[start..<end]`, eight bytes at a time: a
    /// `.cast` line holds a whole relay read with its newlines escaped, so the search crosses
    /// up to a chunk, and a byte-by-byte loop over the slice cost 15% of bastiond's CPU in a
    /// recorded download (measured with perf).
    static func lastNewline(in bytes: [UInt8], from start: Int, to end: Int) -> Int? {
        bytes.withUnsafeBytes { buffer in
            let ones: UInt64 = 0x0101_0101_0101_0101
            var index = end
            // A word holds a newline when (word ^ 0x0a…) has a zero byte.
            while index - start >= 8 {
                let word = buffer.loadUnaligned(fromByteOffset: index - 8, as: UInt64.self) ^ (ones &* 0x0A)
                if (word &- ones) & ~word & (ones &* 0x80) != 0 { break }
                index -= 8
            }
            while index > start {
                index -= 1
                if buffer[index] == UInt8(ascii: "\n") { return index }
            }
            return nil
        }
    }

    /// The final (empty) chunk.
    func finish() throws -> [UInt8] {
        try writer.finish()
    }

    /// Lowercase hex SHA-256 of everything sealed, once finished.
    var plaintextSHA256: String? { writer.plaintextSHA256.map(Hex.string) }
}
