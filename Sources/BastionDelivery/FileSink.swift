public import BastionCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The `file` sink: one formatted event per line, appended and fsync'd before the relay
/// moves its cursor, rotated by size (`path` → `path.1` → … → `path.<keep>`, the oldest
/// dropped), files 0600. A full disk is a retryable failure: nothing is skipped.
public final class FileSink: SIEMSink, @unchecked Sendable {
    public let name: String
    private let path: String
    private let rotateBytes: Int
    private let keep: Int
    private let filter: @Sendable (String) -> Bool
    private let format: @Sendable (SIEMRecord) -> String
    // Touched only by the relay's thread.
    private var descriptor: Int32 = -1
    private var size = 0

    public init(
        name: String, path: String, rotateBytes: Int, keep: Int, accepts filter: @escaping @Sendable (String) -> Bool,
        format: @escaping @Sendable (SIEMRecord) -> String
    ) {
        self.name = name
        self.path = path
        self.rotateBytes = rotateBytes
        self.keep = keep
        self.filter = filter
        self.format = format
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    public func accepts(_ type: String) -> Bool { filter(type) }

    public func deliver(_ records: [SIEMRecord]) throws(SIEMDeliveryError) {
        var pending: [UInt8] = []
        for record in records {
            let line = Array((format(record) + "\n").utf8)
            if size + pending.count + line.count > rotateBytes, size + pending.count > 0 {
                try write(pending)
                pending = []
                try rotate()
            }
            pending += line
        }
        try write(pending)
        guard fsync(descriptor) == 0 else { throw failure("fsync") }
    }

    private func write(_ bytes: [UInt8]) throws(SIEMDeliveryError) {
        guard !bytes.isEmpty else { return }
        try openIfNeeded()
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                let error = failure("write")
                // A partial line must not stay: cut the file back to the last whole line.
                _ = ftruncate(descriptor, off_t(size))
                throw error
            }
            offset += written
        }
        size += bytes.count
    }

    private func openIfNeeded() throws(SIEMDeliveryError) {
        guard descriptor < 0 else { return }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw failure("open") }
        let end = lseek(descriptor, 0, SEEK_END)
        size = end > 0 ? Int(end) : 0
    }

    private func rotate() throws(SIEMDeliveryError) {
        guard fsync(descriptor) == 0 else { throw failure("fsync") }
        close(descriptor)
        descriptor = -1
        unlink("\(path).\(keep)")
        for generation in stride(from: keep - 1, through: 1, by: -1) {
            rename("\(path).\(generation)", "\(path).\(generation + 1)")
        }
        guard rename(path, "\(path).1") == 0 else { throw failure("rename") }
        size = 0
    }

    private func failure(_ operation: String) -> SIEMDeliveryError {
        SIEMDeliveryError(.retryable, "\(operation) \(path): \(String(cString: strerror(errno)))")
    }
}
