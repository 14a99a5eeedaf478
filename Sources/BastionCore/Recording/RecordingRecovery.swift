import BastionCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Closes the recordings a crash left open.
///
/// A recording is unfinished while its `<id>.cast.open` marker exists. For each marker no
/// live process holds (the recorder keeps an exclusive `flock` on it), recovery cuts a
/// partially written last line, appends `[t, "m", "interrupted"]` at the last event's time,
/// fsyncs, removes the marker, and reports the file, so `asciinema cat` accepts it and the
/// audit log learns that the session ended without a clean close.
public enum RecordingRecovery {
    /// The marker event appended to every recovered file.
    public static let interruptedLabel = "interrupted"

    /// Recovers every unfinished recording under `directory` (all `YYYY/MM/DD` folders).
    ///
    /// Safe to run while other recorders are live: their markers are locked and skipped.
    /// A marker whose `.cast` file is missing (a crash between the two creations) is removed
    /// and not reported: there is no recording to speak of.
    public static func recoverUnfinished(in directory: String, keys: RecordingKeys? = nil) -> [RecoveredRecording] {
        var reports: [RecoveredRecording] = []
        for markerPath in markers(under: directory) {
            if let report = recover(markerPath: markerPath, keys: keys) { reports.append(report) }
        }
        return reports
    }

    /// Every `*.cast.open` below `directory`, sorted so reports come in a stable order.
    static func markers(under directory: String) -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
        var found: [String] = []
        while let relative = enumerator.nextObject() as? String {
            if relative.hasSuffix(".cast.open") { found.append(directory + "/" + relative) }
        }
        return found.sorted()
    }

    /// Repairs one recording; `nil` when there is nothing to report (live, or no file).
    static func recover(markerPath: String, keys: RecordingKeys? = nil) -> RecoveredRecording? {
        let path = String(markerPath.dropLast(".open".count))
        let fileName = path.split(separator: "/").last.map(String.init) ?? path
        let sessionID = String(fileName.dropLast(".cast".count))

        let markerFD = open(markerPath, O_RDWR | O_CLOEXEC)
        guard markerFD >= 0 else { return nil }
        defer { _ = close(markerFD) }
        guard flock(markerFD, LOCK_EX | LOCK_NB) == 0 else { return nil }  // a live recorder

        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { _ = unlink(markerPath) }
            return nil
        }
        defer { _ = close(fd) }

        func failed(_ detail: String) -> RecoveredRecording {
            RecoveredRecording(path: path, sessionID: sessionID, size: 0, sha256: "",
                               error: RecordingError(.recoveryFailed, "\(path): \(detail)"))
        }

        var contents: [UInt8]
        switch RecordingFileSystem.readAll(fd) {
        case .success(let bytes): contents = bytes
        case .failure(let error): return failed("\(error)")
        }
        if SealedRecording.isSealed(prefix: Array(contents.prefix(8))) {
            return recoverSealed(contents, fd: fd, path: path, markerPath: markerPath, sessionID: sessionID, keys: keys, failed: failed)
        }
        // Whole lines end with a newline; anything after the last one was cut by the crash.
        guard let lastNewline = contents.lastIndex(of: UInt8(ascii: "\n")) else {
            return failed("no complete header line")
        }
        let whole = lastNewline + 1
        if whole < contents.count {
            guard ftruncate(fd, off_t(whole)) == 0 else {
                return failed("ftruncate: \(RecordingFileSystem.errorText(errno))")
            }
            contents.removeSubrange(whole...)
        }
        let previousLineStart = contents[..<lastNewline].lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
        let time = eventTime(Array(contents[previousLineStart..<lastNewline]))
        let marker = Array((AsciicastLine.event(time: time, code: .marker, data: interruptedLabel) + "\n").utf8)
        guard lseek(fd, off_t(whole), SEEK_SET) >= 0 else {
            return failed("lseek: \(RecordingFileSystem.errorText(errno))")
        }
        if let error = RecordingFileSystem.writeAll(fd, marker) {
            _ = ftruncate(fd, off_t(whole))
            return failed("write: \(RecordingFileSystem.errorText(error))")
        }
        guard fsync(fd) == 0 else { return failed("fsync: \(RecordingFileSystem.errorText(errno))") }
        contents.append(contentsOf: marker)
        _ = unlink(markerPath)
        RecordingFileSystem.syncDirectory(RecordingFileSystem.parent(of: path))
        return RecoveredRecording(path: path, sessionID: sessionID, size: contents.count,
                                  sha256: RecordingFileSystem.sha256Hex(contents))
    }

    /// A sealed recording: cut after the last chunk that verifies (a crash leaves at most a
    /// partial chunk), then append the "interrupted" marker as the final chunk, so the file
    /// is complete and every byte of it authenticated.
    private static func recoverSealed(
        _ contents: [UInt8], fd: Int32, path: String, markerPath: String, sessionID: String, keys: RecordingKeys?,
        failed: (String) -> RecoveredRecording
    ) -> RecoveredRecording {
        guard let keys else { return failed("sealed recording and no master key to recover it with") }
        let opened: SealedRecordingContents
        let dataKey: SymmetricKey
        do {
            guard let header = try SealedRecordingHeader.parse(contents) else { return failed("sealed header incomplete") }
            dataKey = try keys.dataKey(for: header, path: path)
            opened = try SealedRecording.open(contents, dataKey: dataKey)
        } catch {
            return failed("cannot open the sealed recording: \(error)")
        }
        var size = contents.count
        if opened.status != .complete {
            // Keep whole lines only: resume after the last chunk that ends at or before the
            // last newline, and seal again what whole lines follow it (chunks end at newlines
            // unless one line outgrew a chunk), then the marker and the final chunk.
            let plaintext = opened.plaintext
            guard let lastNewline = plaintext.lastIndex(of: UInt8(ascii: "\n")) else { return failed("no complete header line") }
            let keep = lastNewline + 1
            var boundary = (file: opened.header.byteCount, plaintext: 0)
            let reader = SealedRecordingReader(dataKey: dataKey)
            reader.append(Array(contents.prefix(opened.verifiedByteCount)))
            while let chunk = try? reader.next(), Int(chunk.plaintextOffset) + chunk.plaintext.count <= keep {
                boundary = (chunk.fileOffsetAfter, Int(chunk.plaintextOffset) + chunk.plaintext.count)
            }
            let lines = plaintext[..<lastNewline].split(separator: UInt8(ascii: "\n"))
            let time = lines.last.map { eventTime(Array($0)) } ?? 0
            let marker = Array((AsciicastLine.event(time: time, code: .marker, data: interruptedLabel) + "\n").utf8)
            let tail: [UInt8]
            do {
                let prefix = try SealedRecording.open(Array(contents.prefix(boundary.file)), dataKey: dataKey)
                let sealer = RecordingSealer(try SealedRecordingWriter(resuming: prefix, dataKey: dataKey))
                tail = try sealer.seal(Array(plaintext[boundary.plaintext..<keep]) + marker) + sealer.finish()
            } catch {
                return failed("sealing the marker: \(error)")
            }
            guard ftruncate(fd, off_t(boundary.file)) == 0, lseek(fd, off_t(boundary.file), SEEK_SET) >= 0 else {
                return failed("ftruncate: \(RecordingFileSystem.errorText(errno))")
            }
            if let error = RecordingFileSystem.writeAll(fd, tail) {
                _ = ftruncate(fd, off_t(boundary.file))
                return failed("write: \(RecordingFileSystem.errorText(error))")
            }
            guard fsync(fd) == 0 else { return failed("fsync: \(RecordingFileSystem.errorText(errno))") }
            size = boundary.file + tail.count
        }
        _ = unlink(markerPath)
        RecordingFileSystem.syncDirectory(RecordingFileSystem.parent(of: path))
        guard case .success(let file) = RecordingFileSystem.sha256Hex(ofFile: fd) else { return failed("hashing the recovered file") }
        return RecoveredRecording(path: path, sessionID: sessionID, size: size, sha256: file.sha256)
    }

    /// The time of an event line `[1.234567, "o", ...]`; 0 for the header line.
    static func eventTime(_ line: [UInt8]) -> TimeInterval {
        guard line.first == UInt8(ascii: "["), let comma = line.firstIndex(of: UInt8(ascii: ",")) else { return 0 }
        let text = String(decoding: line[1..<comma], as: UTF8.self).trimmingCharacters(in: .whitespaces)
        guard let time = Double(text), time.isFinite, time >= 0 else { return 0 }
        return time
    }
}
