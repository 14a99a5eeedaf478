public import BastionCore
public import BastionCrypto
public import Foundation
import GRDB
import GRDBSQLite

extension SQLiteAuditLog {
    /// Recomputes the chain over `from...to` (the whole log when nil) and checks every
    /// checkpoint signature with the key it names, trusted through the key history from
    /// `publicKey` (the first audit key).
    ///
    /// Reads with SQLite's C interface, no row objects: a million records verify in a couple
    /// of seconds (`make bench`). One read transaction: a consistent snapshot.
    public func verify(
        publicKey: Ed25519PublicKey, from: Int64?, to: Int64?, purgeableBefore: Date
    ) throws -> AuditVerificationReport {
        try database.storeRead { db in
            let upper = to ?? Int64.max
            var anchor = AuditChainVerifier.Anchor.genesis
            var start: Int64 = 1
            if let from, from > 1,
                let row = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit_records WHERE seq < ? ORDER BY seq DESC LIMIT 1", arguments: [from])
            {
                let hash: Data = row["hash"]
                let seq: Int64 = row["seq"]
                anchor = .after(seq: seq, hash: Array(hash))
                start = seq + 1
            }
            var verifier = AuditChainVerifier(
                anchor: anchor, checkpoints: try Self.checkpoints(db, in: start...upper),
                keys: AuditKeyTrust(anchor: publicKey, history: try Self.keyHistory(db)),
                purgeableBefore: purgeableBefore
            )
            let statement = try db.makeStatement(sql: "SELECT seq, record, hash FROM audit_records WHERE seq BETWEEN ? AND ? ORDER BY seq")
            try statement.setArguments([start, upper])
            let raw = statement.sqliteStatement
            defer { sqlite3_reset(raw) }
            while true {
                let step = sqlite3_step(raw)
                if step == SQLITE_DONE { break }
                guard step == SQLITE_ROW else {
                    throw StoreError(.unavailable, "reading audit records: \(String(cString: sqlite3_errmsg(db.sqliteConnection)))")
                }
                let seq = sqlite3_column_int64(raw, 0)
                let record = UnsafeRawBufferPointer(start: sqlite3_column_text(raw, 1), count: Int(sqlite3_column_bytes(raw, 1)))
                let hash = UnsafeRawBufferPointer(start: sqlite3_column_blob(raw, 2), count: Int(sqlite3_column_bytes(raw, 2)))
                verifier.check(seq: seq, bytes: record, storedHash: hash)
            }
            return verifier.finish(upTo: to)
        }
    }
}
