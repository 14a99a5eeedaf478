public import BastionCore
public import BastionCrypto
public import Foundation

/// The audit key history on PostgreSQL (`audit_keys`, append-only by trigger): one history
/// for every node, read by each node when it signs a checkpoint.
extension PostgresAuditLog {
    public func keyHistory() throws -> [AuditKeyEntry] {
        try database.run { connection in try Self.keyHistory(connection) }
    }

    public func rotateKey(
        current: any Ed25519Signer, next: Ed25519PublicKey, at time: Date, event: (AuditKeyEntry) -> AuditEvent
    ) throws -> AuditKeyEntry {
        try database.transaction { connection in
            // Taken first: no node appends or signs until the new key is in the history.
            let head = try Self.lockHead(connection)
            var history = try Self.keyHistory(connection)
            if history.isEmpty {
                let first = AuditKeyEntry.first(current.publicKey, time: time)
                try Self.insert(first, connection)
                history = [first]
            }
            let newest = history[history.count - 1]
            guard newest.publicKey == current.publicKey else {
                throw StoreError(.conflict, "the audit key history's newest key is version \(newest.version) (\(newest.fingerprint)), not this process's key")
            }
            if head.seq > 0, head.seq > (try Self.lastCheckpointSeq(connection) ?? 0) {
                try Self.insert(
                    [AuditCheckpoint.signed(seq: head.seq, hash: head.hash, time: time, key: current, keyVersion: newest.version)], connection
                )
            }
            let entry = try AuditKeyEntry.next(after: newest, publicKey: next, fromSeq: head.seq + 1, time: time, signer: current)
            try Self.insert(entry, connection)
            try appendChained([event(entry).canonicalJSON()], connection)
            return entry
        }
    }

    /// Signs a checkpoint with the key history's current version (read in the caller's
    /// transaction, which holds the chain head's lock).
    func sign(seq: Int64, hash: [UInt8], _ connection: PostgresConnection) throws -> AuditCheckpoint? {
        let version = try connection.query("SELECT max(version) AS version FROM audit_keys").first?.optionalInt64("version").map(Int.init) ?? 1
        guard let signer = try sealing.signer(version: version) else { return nil }
        return try AuditCheckpoint.signed(seq: seq, hash: hash, time: clock.now(), key: signer, keyVersion: version)
    }

    static func keyHistory(_ connection: PostgresConnection) throws -> [AuditKeyEntry] {
        try connection.query("SELECT version, public_key, from_seq, time_ms, signature FROM audit_keys ORDER BY version").all.map { row in
            AuditKeyEntry(
                version: try row.int("version"), publicKey: try Ed25519PublicKey(rawRepresentation: try row.bytes("public_key")),
                fromSeq: try row.int64("from_seq"), timeMilliseconds: try row.int64("time_ms"), signature: try row.bytes("signature")
            )
        }
    }

    static func insert(_ entry: AuditKeyEntry, _ connection: PostgresConnection) throws {
        try connection.query(
            "INSERT INTO audit_keys (version, public_key, from_seq, time_ms, signature) VALUES ($1, $2, $3, $4, $5)",
            [entry.version, PostgresBytes(entry.publicKey.rawRepresentation), entry.fromSeq, entry.timeMilliseconds, PostgresBytes(entry.signature)]
        )
    }
}
