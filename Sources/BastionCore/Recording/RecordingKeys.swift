public import BastionCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The keys recordings are sealed and opened with (docs/keys.md "Recordings").
///
/// Each recording has its own data key, wrapped by the master key; the wrapped key and the
/// master key's version sit in the file's header. After a master key rotation the data key is
/// re-wrapped into a `<id>.cast.keys` sidecar, so the recording itself (and the SHA-256 its
/// `session.end` record holds) never changes.
public struct RecordingKeys: Sendable {
    public let keyring: MasterKeyring
    /// Whether new recordings are sealed (`recording.encrypt`); old ones open either way.
    public let sealsNewRecordings: Bool

    /// Bound into every recording data key's wrap: such a key cannot be passed off as another kind.
    public static let wrapContext = Array("bastion/recording/v1".utf8)

    public init(keyring: MasterKeyring, sealsNewRecordings: Bool = true) {
        self.keyring = keyring
        self.sealsNewRecordings = sealsNewRecordings
    }

    /// A writer for a new recording: a fresh data key, carried wrapped in its header.
    func newRecording() throws -> SealedRecordingWriter {
        let dataKey = try keyring.newDataKey(context: Self.wrapContext)
        return try SealedRecordingWriter(dataKey: dataKey.key, wrappedKey: dataKey.wrapped, masterKeyVersion: dataKey.version)
    }

    /// The data key of the recording at `path` with `header`: from the header's wrapped key,
    /// or, once its master key version is gone, from a re-wrapped copy in the sidecar.
    public func dataKey(for header: SealedRecordingHeader, path: String) throws -> SymmetricKey {
        var lastError: (any Error)?
        for wrapped in RecordingKeySidecar.read(path: path).reversed() + [(header.masterKeyVersion, header.wrappedKey)] {
            do { return try keyring.unwrap(wrapped.1, version: wrapped.0, context: Self.wrapContext) } catch { lastError = error }
        }
        throw lastError ?? EnvelopeError("no usable wrapped key")
    }

    /// The asciicast text of a whole recording file, sealed or plain. A sealed file must
    /// verify up to its end; a file without its final chunk (a live session) yields the
    /// verified prefix.
    public func plaintext(of file: [UInt8], path: String) throws(RecordingError) -> [UInt8] {
        guard SealedRecording.isSealed(prefix: Array(file.prefix(8))) else { return file }
        do {
            guard let header = try SealedRecordingHeader.parse(file) else {
                throw RecordingError(.unreadable, "\(path): sealed recording header incomplete")
            }
            let contents = try SealedRecording.open(file, dataKey: try dataKey(for: header, path: path))
            if case .corrupt(let offset) = contents.status {
                throw RecordingError(.unreadable, "\(path): sealed recording fails authentication at byte \(offset)")
            }
            return contents.plaintext
        } catch let error as RecordingError {
            throw error
        } catch {
            throw RecordingError(.unreadable, "\(path): cannot open the sealed recording: \(error)")
        }
    }

    /// The first `count` bytes or more of a sealed recording's asciicast text (all of it if
    /// shorter), read and authenticated chunk by chunk: search indexing keeps the start of a
    /// long session, and must not decrypt gigabytes for it.
    public func plaintextPrefix(atPath path: String, count: Int) throws(RecordingError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RecordingError(.unreadable, "\(path): \(RecordingFileSystem.errorText(errno))") }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: SealedRecordingHeader.maximumWrappedKeyByteCount + 4_096)
        let read = head.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        head.removeSubrange(max(read, 0)...)
        do {
            guard let header = try SealedRecordingHeader.parse(head) else { throw RecordingError(.unreadable, "\(path): sealed header incomplete") }
            let reader = SealedRecordingReader(dataKey: try dataKey(for: header, path: path))
            reader.append(head)
            var text: [UInt8] = []
            while text.count < count {
                if let chunk = try reader.next() {
                    text += chunk.plaintext
                } else if try reader.readAvailable(from: fd, maximumByteCount: 1 << 18) == 0 {
                    break
                }
            }
            return text
        } catch let error as RecordingError {
            throw error
        } catch {
            throw RecordingError(.unreadable, "\(path): cannot open the sealed recording: \(error)")
        }
    }

    /// ``plaintext(of:path:)`` of the file at `path`.
    public func plaintext(atPath path: String) throws(RecordingError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RecordingError(.unreadable, "\(path): missing or unreadable")
        }
        return try plaintext(of: Array(data), path: path)
    }
}

extension Optional where Wrapped == RecordingKeys {
    /// Plain recordings need no key; a sealed one without keys is refused with a clear reason.
    public func plaintext(atPath path: String) throws(RecordingError) -> [UInt8] {
        if let keys = self { return try keys.plaintext(atPath: path) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RecordingError(.unreadable, "\(path): missing or unreadable")
        }
        guard !SealedRecording.isSealed(prefix: Array(data.prefix(8))) else {
            throw RecordingError(.unreadable, "\(path): the recording is sealed and no master key is available here")
        }
        return Array(data)
    }
}

/// `<recording>.keys`: the recording's data key re-wrapped under newer master key versions,
/// one `VERSION BASE64` line each, appended by ``MasterKeyRotation``.
public enum RecordingKeySidecar {
    public static func path(for recording: String) -> String { recording + ".keys" }

    /// Appends one re-wrapped copy (0600, fsynced): the recording itself is never touched.
    public static func append(version: UInt32, wrapped: [UInt8], to recording: String) throws {
        let line = Array("\(version) \(Data(wrapped).base64EncodedString())\n".utf8)
        let fd = open(path(for: recording), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw RecordingError(.writeFailed, "\(path(for: recording)): \(RecordingFileSystem.errorText(errno))") }
        defer { close(fd) }
        if let error = RecordingFileSystem.writeAll(fd, line) {
            throw RecordingError(.writeFailed, "\(path(for: recording)): \(RecordingFileSystem.errorText(error))")
        }
        guard fsync(fd) == 0 else { throw RecordingError(.writeFailed, "\(path(for: recording)): \(RecordingFileSystem.errorText(errno))") }
    }

    public static func read(path recording: String) -> [(UInt32, [UInt8])] {
        guard let text = try? String(contentsOfFile: self.path(for: recording), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let parts = line.split(separator: " ")
            guard parts.count == 2, let version = UInt32(parts[0]), let bytes = Data(base64Encoded: String(parts[1])) else { return nil }
            return (version, Array(bytes))
        }
    }
}
