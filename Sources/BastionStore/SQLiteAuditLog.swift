public import GRDB
public import BastionCore
import Foundation

/// The audit log on SQLite: an append-only table of canonical JSON events.
///
/// The hash chain, checkpoints and retention arrive with the audit issue; the table and
/// the canonical encoding are already the ones it will chain.
public final class SQLiteAuditLog: AuditEmitter {
    /// One stored record.
    public struct Record: Sendable {
        public var seq: Int64
        public var type: String
        public var code: String
        public var json: String
    }

    private let database: any DatabaseWriter

    public init(database: any DatabaseWriter) {
        self.database = database
    }

    public func append(_ event: AuditEvent) throws {
        do {
            try database.write { db in
                try db.execute(
                    sql: "INSERT INTO audit_events (time, type, code, event_json) VALUES (?, ?, ?, ?)",
                    arguments: [event.time.timeIntervalSince1970, event.type.name, event.type.code, Data(event.canonicalJSON())]
                )
            }
        } catch {
            throw StoreError(.unavailable, "audit append failed: \(error)")
        }
    }

    /// Records after `seq`, oldest first, optionally of one type.
    public func records(after seq: Int64 = 0, type: String? = nil) throws -> [Record] {
        try database.read { db in
            var sql = "SELECT seq, type, code, event_json FROM audit_events WHERE seq > ?"
            var arguments: StatementArguments = [seq]
            if let type {
                sql += " AND type = ?"
                arguments += [type]
            }
            return try Row.fetchAll(db, sql: sql + " ORDER BY seq", arguments: arguments).map { row in
                let json: Data = row["event_json"]
                return Record(seq: row["seq"], type: row["type"], code: row["code"], json: String(decoding: json, as: UTF8.self))
            }
        }
    }
}
