import BastionCrypto
import Foundation

/// Whether a recording is the one that was made: its SHA-256 now against the one its
/// `session.end` audit record holds (that record is itself checked against the hash chain by
/// the caller). Checked before every replay and export.
public enum RecordingIntegrity {
    public enum Verdict: Sendable, Equatable {
        case intact
        /// The file's hash differs: altered, truncated or replaced.
        case altered(expected: String, actual: String)
        case missing(String)
        /// The session has no recording or its record holds no hash.
        case unrecorded
    }

    public static func check(_ session: IndexedSession) -> Verdict {
        guard let path = session.recording, let expected = session.recordingSHA256 else { return .unrecorded }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .missing(path) }
        defer { close(fd) }
        switch RecordingFileSystem.sha256Hex(ofFile: fd) {
        case .success(let file):
            return constantTimeEquals(Array(file.sha256.utf8), Array(expected.utf8)) ? .intact : .altered(expected: expected, actual: file.sha256)
        case .failure:
            return .missing(path)
        }
    }
}
