import BastionCore
import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#endif

extension BastionDatabase {
    /// The newest audit record of a snapshot: what a restore must reach.
    public struct SnapshotTail: Sendable {
        public var lastSeq: Int64
        public var lastHash: String
    }

    /// Copies the database at `path` into a new file at `destination` (0600, never replacing
    /// one) with SQLite's online backup API (GRDB's `backup(to:)`): one consistent snapshot
    /// taken page by page while the daemon keeps writing, without stopping it. Returns the
    /// snapshot's newest audit record.
    public static func snapshot(path: String, to destination: String) throws -> SnapshotTail? {
        let source = try open(path: path, migrating: false)
        let fd = Glibc.open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BackupError("\(destination): cannot create: \(String(cString: strerror(errno)))") }
        Glibc.close(fd)
        let copy = try DatabaseQueue(path: destination)
        try source.backup(to: copy)
        let tail = try copy.read { db -> SnapshotTail? in
            guard let row = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1") else { return nil }
            let hash: Data = row["hash"]
            return SnapshotTail(lastSeq: row["seq"], lastHash: Hex.string(hash))
        }
        try copy.close()
        return tail
    }
}
