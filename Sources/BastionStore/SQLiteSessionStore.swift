public import GRDB
public import BastionCore
public import Foundation

/// ``SessionStore`` on SQLite: the daemon's live sessions, visible to the admin CLI.
///
/// The statements on a session's path (register, the once-a-second kill check, mark ended)
/// are prepared once per database connection (`cachedStatement`): parsing the SQL again each
/// time cost more CPU than running it.
public final class SQLiteSessionStore: SessionStore {
    private let database: any DatabaseWriter

    public init(database: any DatabaseWriter) {
        self.database = database
    }

    public func register(_ session: SessionRecord) throws {
        try database.storeWrite { db in
            try db.cachedStatement(sql: """
                INSERT INTO sessions (id, user_name, login, target, source_address, kind, started_at, recording)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                session.id.rawValue, session.user, session.login, session.target, session.sourceAddress, session.kind,
                session.startedAt.timeIntervalSince1970, session.recording,
            ])
        }
    }

    public func markEnded(id: SessionID, at date: Date) throws {
        try database.storeWrite { db in
            try db.cachedStatement(sql: "UPDATE sessions SET ended_at = ? WHERE id = ?").execute(arguments: [date.timeIntervalSince1970, id.rawValue])
        }
    }

    public func updateTarget(id: SessionID, target: String) throws {
        try database.storeWrite { db in
            try db.execute(sql: "UPDATE sessions SET target = ? WHERE id = ?", arguments: [target, id.rawValue])
        }
    }

    public func liveSessions() throws -> [SessionRecord] {
        try database.storeSingleStatementRead { db in
            try Row.fetchAll(db, sql: "SELECT * FROM sessions WHERE ended_at IS NULL ORDER BY started_at").map(Self.record(from:))
        }
    }

    public func requestKill(id: SessionID) throws -> Bool {
        try database.storeWrite { db in
            try db.execute(sql: "UPDATE sessions SET kill_requested = 1 WHERE id = ? AND ended_at IS NULL", arguments: [id.rawValue])
            return db.changesCount > 0
        }
    }

    public func endRequest(id: SessionID) throws -> SessionEndRequest? {
        try database.storeSingleStatementRead { db in
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT kill_requested, ended_at IS NOT NULL AS ended FROM sessions WHERE id = ?"), arguments: [id.rawValue]
            )
            guard let row else { return nil }
            if row["ended"] as Bool? == true { return .endedElsewhere }
            return row["kill_requested"] as Bool? == true ? .kill : nil
        }
    }

    public func endAbandoned(at date: Date) throws -> [SessionRecord] {
        try database.storeWrite { db in
            let abandoned = try Row.fetchAll(db, sql: "SELECT * FROM sessions WHERE ended_at IS NULL").map(Self.record(from:))
            try db.execute(sql: "UPDATE sessions SET ended_at = ? WHERE ended_at IS NULL", arguments: [date.timeIntervalSince1970])
            return abandoned
        }
    }

    private static func record(from row: Row) -> SessionRecord {
        SessionRecord(
            id: SessionID(rawValue: row["id"]), user: row["user_name"], login: row["login"], target: row["target"], sourceAddress: row["source_address"],
            kind: row["kind"], startedAt: Date(timeIntervalSince1970: row["started_at"]), recording: row["recording"]
        )
    }
}
