public import BastionCore
public import GRDB
import Foundation

/// ``SessionCatalog`` on SQLite: `session_catalog` for the facts, and a contentless FTS5
/// table `session_text` (same rowid) for what each session printed. Contentless: the index
/// answers "which sessions printed these words" without keeping a second copy of every
/// recording in the database; the recording itself stays the only copy.
public final class SQLiteSessionCatalog: SessionCatalog {
    private let database: any DatabaseWriter

    public init(database: any DatabaseWriter) {
        self.database = database
    }

    public func add(_ entries: [SessionCatalogEntry], indexedThrough seq: Int64) throws {
        try database.storeWrite { db in
            for entry in entries {
                let session = entry.session
                let exists = try Bool.fetchOne(
                    db.cachedStatement(sql: "SELECT 1 FROM session_catalog WHERE id = ?"), arguments: [session.id.rawValue]
                ) ?? false
                guard !exists else { continue }
                try db.cachedStatement(sql: """
                    INSERT INTO session_catalog (id, user_name, login, target, source_address, started_at, duration, exit_status, end_reason,
                        recording, recording_size, recording_sha256, elevation_request, audit_seq)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """).execute(arguments: [
                        session.id.rawValue, session.user, session.login, session.target, session.sourceAddress, session.startedAt.timeIntervalSince1970,
                        session.duration, session.exitStatus, session.endReason, session.recording, session.recordingSize,
                        session.recordingSHA256, session.elevationRequest, session.auditSeq,
                    ])
                try db.cachedStatement(sql: "INSERT INTO session_text (rowid, text) VALUES (?, ?)").execute(arguments: [db.lastInsertedRowID, entry.text])
            }
            try Self.advance(db, to: seq)
        }
    }

    public func indexedThrough() throws -> Int64 {
        try database.storeRead { db in try Int64.fetchOne(db, sql: "SELECT indexed_seq FROM session_catalog_state") ?? 0 }
    }

    public func markIndexed(through seq: Int64) throws {
        try database.storeWrite { db in try Self.advance(db, to: seq) }
    }

    public func session(id: SessionID) throws -> IndexedSession? {
        try database.storeRead { db in
            try Row.fetchOne(db, sql: "SELECT * FROM session_catalog WHERE id = ?", arguments: [id.rawValue]).map(Self.session(from:))
        }
    }

    public func search(_ query: SessionQuery) throws -> [IndexedSession] {
        var conditions: [String] = []
        var arguments: [(any DatabaseValueConvertible)?] = []
        if let user = query.user {
            conditions.append("user_name = ?")
            arguments.append(user)
        }
        if let target = query.target {
            conditions.append("target = ?")
            arguments.append(target)
        }
        if let since = query.since {
            conditions.append("started_at + duration >= ?")
            arguments.append(since.timeIntervalSince1970)
        }
        if let until = query.until {
            conditions.append("started_at <= ?")
            arguments.append(until.timeIntervalSince1970)
        }
        if let words = query.fullTextQuery {
            conditions.append("rowid IN (SELECT rowid FROM session_text WHERE session_text MATCH ?)")
            arguments.append(words)
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        arguments.append(query.limit)
        let sql = "SELECT * FROM session_catalog \(filter) ORDER BY started_at DESC, rowid DESC LIMIT ?"
        return try database.storeRead { db in
            try Row.fetchAll(db, sql: sql, arguments: StatementArguments(arguments)).map(Self.session(from:))
        }
    }

    private static func advance(_ db: Database, to seq: Int64) throws {
        try db.execute(sql: "UPDATE session_catalog_state SET indexed_seq = max(indexed_seq, ?)", arguments: [seq])
    }

    private static func session(from row: Row) -> IndexedSession {
        IndexedSession(
            id: SessionID(rawValue: row["id"]), user: row["user_name"], login: row["login"], target: row["target"], sourceAddress: row["source_address"],
            startedAt: Date(timeIntervalSince1970: row["started_at"]), duration: row["duration"], exitStatus: row["exit_status"],
            endReason: row["end_reason"], recording: row["recording"], recordingSize: row["recording_size"],
            recordingSHA256: row["recording_sha256"], elevationRequest: row["elevation_request"], auditSeq: row["audit_seq"]
        )
    }
}
