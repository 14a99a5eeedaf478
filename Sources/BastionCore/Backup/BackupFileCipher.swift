public import BastionCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How each file of a backup is encrypted: AES-256-GCM in the STREAM construction (Hoang,
/// Reyhanitabar, Rogaway, Vizár 2015), so a file of any size is sealed and opened in 1 MiB
/// pieces, never held whole in memory.
///
/// Layout: `"BBK1"` ‖ chunk ‖ chunk ‖ …, each chunk `ciphertext ‖ tag (16)` of exactly
/// ``chunkSize`` plaintext bytes except the last (0…chunkSize bytes). A chunk's nonce is its
/// index (UInt64 big-endian) ‖ three zero bytes ‖ a final flag (1 on the last chunk only), so
/// chunks cannot be reordered, dropped or cut off at a chunk boundary (the new last chunk was
/// sealed as not final). Each file has its own key, `HKDF-SHA256(section key, info:
/// "bastion/backup/v1/file/" ‖ path)`: the section key is fresh per backup and the paths of one
/// backup differ, so no (key, nonce) pair ever repeats, and a file moved to another path
/// does not open.
public enum BackupFileCipher {
    public static let magic: [UInt8] = Array("BBK1".utf8)
    public static let chunkSize = 1 << 20
    static let tagSize = AESGCMCipher.tagByteCount

    /// What sealing one file produced.
    public struct Sealed: Sendable {
        /// The encrypted file's size and SHA-256 (hex): what the manifest records.
        public var size: Int
        public var sha256: String
        public var plainSize: Int
    }

    /// The key of the file at backup path `path`.
    public static func fileKey(section key: SymmetricKey, path: String) throws -> SymmetricKey {
        try SymmetricKey(bytes: HKDF.sha256(
            key: key.bytes, salt: [], info: Array(("bastion/backup/v1/file/" + path).utf8), outputByteCount: SymmetricKey.byteCount
        ))
    }

    static func nonce(_ index: UInt64, final: Bool) -> [UInt8] {
        var nonce = [UInt8](repeating: 0, count: AESGCMCipher.nonceByteCount)
        for byte in 0..<8 { nonce[byte] = UInt8(truncatingIfNeeded: index >> (56 - 8 * UInt64(byte))) }
        nonce[11] = final ? 1 : 0
        return nonce
    }

    /// Encrypts the file at `source` into a new 0600 file at `destination` (never replacing one).
    public static func seal(source: String, destination: String, key: SymmetricKey, path: String) throws -> Sealed {
        let input = Glibc.open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw BackupError("\(source): cannot open: \(String(cString: strerror(errno)))") }
        defer { Glibc.close(input) }
        let output = Glibc.open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw BackupError("\(destination): cannot create: \(String(cString: strerror(errno)))") }
        var closed = false
        defer { if !closed { Glibc.close(output) } }
        let cipher = try AESGCMCipher(key: fileKey(section: key, path: path))
        let hash = IncrementalSHA256()
        var size = 0
        func emit(_ bytes: [UInt8]) throws {
            hash.update(bytes)
            try writeAll(output, bytes, path: destination)
            size += bytes.count
        }
        try emit(magic)
        var plainSize = 0
        var index: UInt64 = 0
        // Read one chunk ahead: a chunk is final when nothing follows it.
        var current = try readChunk(input, path: source)
        while true {
            let next = current.count == chunkSize ? try readChunk(input, path: source) : []
            let final = next.isEmpty
            try emit(cipher.seal(current, nonce: nonce(index, final: final), authenticating: magic))
            plainSize += current.count
            if final { break }
            current = next
            index += 1
        }
        guard fsync(output) == 0 else { throw BackupError("\(destination): cannot sync: \(String(cString: strerror(errno)))") }
        closed = true
        guard Glibc.close(output) == 0 else { throw BackupError("\(destination): cannot close: \(String(cString: strerror(errno)))") }
        return Sealed(size: size, sha256: Hex.string(hash.finalize()), plainSize: plainSize)
    }

    /// Decrypts the file at `source`, handing each authenticated chunk to `sink` in order.
    /// Throws (naming `path`) on any change: a flipped byte, a truncation, a chunk moved.
    public static func open(source: String, key: SymmetricKey, path: String, sink: ([UInt8]) throws -> Void) throws {
        let input = Glibc.open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw BackupError("\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { Glibc.close(input) }
        let header = try readExactly(input, count: magic.count, path: path)
        guard header == magic else { throw BackupError("\(path): not a Bastion backup file (bad header)") }
        let cipher = try AESGCMCipher(key: fileKey(section: key, path: path))
        var index: UInt64 = 0
        var current = try readExactly(input, count: chunkSize + tagSize, path: path)
        while true {
            let next = current.count == chunkSize + tagSize ? try readExactly(input, count: chunkSize + tagSize, path: path) : []
            let final = next.isEmpty
            guard current.count >= tagSize else { throw BackupError("\(path): truncated (a chunk shorter than its tag)") }
            let plain: [UInt8]
            do { plain = try cipher.open(current, nonce: nonce(index, final: final), authenticating: magic) } catch {
                throw BackupError("\(path): does not decrypt (altered, truncated or under another key)")
            }
            try sink(plain)
            if final { return }
            current = next
            index += 1
        }
    }

    /// SHA-256 (hex) and size of a file, read in chunks.
    public static func sha256(ofFile path: String) throws -> (sha256: String, size: Int) {
        let input = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw BackupError("\(path): cannot open: \(String(cString: strerror(errno)))") }
        defer { Glibc.close(input) }
        let hash = IncrementalSHA256()
        var size = 0
        while true {
            let chunk = try readChunk(input, path: path)
            if chunk.isEmpty { break }
            hash.update(chunk)
            size += chunk.count
        }
        return (Hex.string(hash.finalize()), size)
    }

    static func readChunk(_ fd: Int32, path: String) throws -> [UInt8] {
        try readExactly(fd, count: chunkSize, path: path)
    }

    /// Up to `count` bytes; fewer only at the end of the file.
    static func readExactly(_ fd: Int32, count: Int, path: String) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, count - filled) }
            if n < 0 {
                if errno == EINTR { continue }
                throw BackupError("\(path): cannot read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            filled += n
        }
        if filled < count { buffer.removeSubrange(filled...) }
        return buffer
    }

    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 {
                if errno == EINTR { continue }
                throw BackupError("\(path): cannot write: \(String(cString: strerror(errno)))")
            }
            written += n
        }
    }
}
