public import BastionCore
public import BastionCrypto
public import Foundation
import GRDB

/// The audit key history on SQLite (`audit_keys`, append-only by trigger).
extension SQLiteAuditLog {
    public func keyHistory() throws -> [AuditKeyEntry] {
        try database.storeRead { db in try Self.keyHistory(db) }
    }

    public func rotateKey(
        current: any Ed25519Signer, next: Ed25519PublicKey, at time: Date, event: (AuditKeyEntry) -> AuditEvent
    ) throws -> AuditKeyEntry {
        try database.storeWrite { db in
            var history = try Self.keyHistory(db)
            if history.isEmpty {
                let first = AuditKeyEntry.first(current.publicKey, time: time)
                try Self.insert(first, db)
                history = [first]
            }
            let newest = history[history.count - 1]
            guard newest.publicKey == current.publicKey else {
                throw StoreError(.conflict, "the audit key history's newest key is version \(newest.version) (\(newest.fingerprint)), not this process's key")
            }
            // The old key seals everything before the rotation, so nothing it covers is left
            // for the new key, and nothing after it is ever signed by the old one.
            let head = try Self.head(db)
            if let head, head.seq > (try Self.lastCheckpointSeq(db) ?? 0) {
                try Self.insert(AuditCheckpoint.signed(seq: head.seq, hash: head.hash, time: time, key: current, keyVersion: newest.version), db)
            }
            let highWater = try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'audit_records'") ?? 0
            let entry = try AuditKeyEntry.next(
                after: newest, publicKey: next, fromSeq: max(head?.seq ?? 0, highWater) + 1, time: time, signer: current
            )
            try Self.insert(entry, db)
            try appendChained([event(entry).canonicalJSON()], db)
            return entry
        }
    }

    /// Signs a checkpoint with the key history's current version (read in the caller's
    /// transaction, so a rotation by another process is seen at once).
    func sign(seq: Int64, hash: [UInt8], _ db: Database) throws -> AuditCheckpoint? {
        let version = try Int.fetchOne(db.cachedStatement(sql: "SELECT max(version) FROM audit_keys")) ?? 1
        guard let signer = try sealing.signer(version: version) else { return nil }
        return try AuditCheckpoint.signed(seq: seq, hash: hash, time: clock.now(), key: signer, keyVersion: version)
    }

    static func keyHistory(_ db: Database) throws -> [AuditKeyEntry] {
        try Row.fetchAll(db, sql: "SELECT version, public_key, from_seq, time_ms, signature FROM audit_keys ORDER BY version").map { row in
            let key: Data = row["public_key"]
            let signature: Data = row["signature"]
            return AuditKeyEntry(
                version: row["version"], publicKey: try Ed25519PublicKey(rawRepresentation: Array(key)), fromSeq: row["from_seq"],
                timeMilliseconds: row["time_ms"], signature: Array(signature)
            )
        }
    }

    static func insert(_ entry: AuditKeyEntry, _ db: Database) throws {
        try db.execute(
            sql: "INSERT INTO audit_keys (version, public_key, from_seq, time_ms, signature) VALUES (?, ?, ?, ?, ?)",
            arguments: [entry.version, Data(entry.publicKey.rawRepresentation), entry.fromSeq, entry.timeMilliseconds, Data(entry.signature)]
        )
    }
}
