import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import BastionCrypto

/// The few POSIX file operations recordings need, with errno turned into text.
///
/// Plain `open`/`write`/`fsync` rather than `FileHandle`: the file must be created with
/// `O_EXCL` and mode 0600 in one step, writes must be whole lines or fail visibly, and a
/// failure must say which errno (ENOSPC, EIO) the auditor is looking at.
enum RecordingFileSystem {
    /// `YYYY/MM/DD` of `date` in UTC.
    static func datePath(for date: Date) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)/\(two(parts.tm_mon + 1))/\(two(parts.tm_mday))"
    }

    /// Whether `sessionID` is safe as a file name: letters, digits, `-`, `_`, `.`, no leading
    /// dot, at most 200 bytes. Anything else could escape the recording directory or hide.
    static func isValidSessionID(_ sessionID: String) -> Bool {
        guard !sessionID.isEmpty, sessionID.utf8.count <= 200, sessionID.first != "." else { return false }
        return sessionID.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                return true
            default:
                return false
            }
        }
    }

    /// `mkdir -p` with mode 0700 for every directory it creates; existing ones are left as
    /// they are (the store's root belongs to the operator).
    static func makeDirectories(_ path: String) throws(RecordingError) {
        var prefix = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + component
            if mkdir(prefix, 0o700) == 0 { continue }
            let error = errno
            guard error == EEXIST else {
                throw RecordingError(.cannotCreate, "mkdir \(prefix): \(errorText(error))")
            }
            var info = stat()
            guard stat(prefix, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
                throw RecordingError(.cannotCreate, "mkdir \(prefix): exists and is not a directory")
            }
        }
    }

    /// Creates a new file with mode 0600; fails if it exists.
    static func createExclusive(_ path: String) throws(RecordingError) -> Int32 {
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RecordingError(.cannotCreate, "open \(path): \(errorText(errno))") }
        return fd
    }

    /// Writes all of `bytes`, retrying short writes and EINTR. Returns the errno on failure;
    /// some bytes may have reached the file by then.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Int32? {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                write(fd, raw.baseAddress! + offset, raw.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            if written == 0 { return EIO }
            offset += written
        }
        return nil
    }

    /// Reads the whole file behind `fd` from offset 0.
    static func readAll(_ fd: Int32) -> Result<[UInt8], RecordingError> {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var offset: off_t = 0
        while true {
            let count = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(RecordingError(.writeFailed, "read back: \(errorText(errno))"))
            }
            if count == 0 { return .success(result) }
            result.append(contentsOf: chunk[0..<count])
            offset += off_t(count)
        }
    }

    /// fsync of a directory, so a created or removed entry survives a power cut.
    static func syncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        _ = close(fd)
    }

    /// Lowercase hex SHA-256, as `sha256sum` prints it.
    static func sha256Hex(_ bytes: [UInt8]) -> String {
        Hex.string(SHA256.hash(bytes))
    }

    /// Size and lowercase hex SHA-256 of the whole file behind `fd`.
    ///
    /// Hashes a read-only mapping of the file rather than a copy in memory: a recording of a
    /// bulk transfer can be gigabytes (`/dev/zero` output is six bytes of JSON per byte), and
    /// reading it into an array at the end of the session cost as much CPU as writing it,
    /// plus that much memory.
    static func sha256Hex(ofFile fd: Int32) -> Result<(size: Int, sha256: String), RecordingError> {
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            return .failure(RecordingError(.writeFailed, "fstat: \(errorText(errno))"))
        }
        let size = Int(info.st_size)
        let hasher = SHA256Hasher()
        var digest = [UInt8](repeating: 0, count: SHA256.byteCount)
        guard size > 0 else {
            digest.withUnsafeMutableBytes { hasher.hash(UnsafeRawBufferPointer(start: nil, count: 0), UnsafeRawBufferPointer(start: nil, count: 0), into: $0) }
            return .success((0, Hex.string(digest)))
        }
        guard let mapping = mmap(nil, size, PROT_READ, MAP_SHARED, fd, 0), mapping != MAP_FAILED else {
            return .failure(RecordingError(.writeFailed, "mmap for hashing: \(errorText(errno))"))
        }
        defer { munmap(mapping, size) }
        _ = madvise(mapping, size, MADV_SEQUENTIAL)
        digest.withUnsafeMutableBytes { output in
            hasher.hash(UnsafeRawBufferPointer(start: mapping, count: size), UnsafeRawBufferPointer(start: nil, count: 0), into: output)
        }
        return .success((size, Hex.string(digest)))
    }

    static func errorText(_ code: Int32) -> String {
        String(cString: strerror(code)) + " (errno \(code))"
    }

    /// The directory part of `path`.
    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
