public import BastionCore
public import Foundation

/// ``SessionStore`` on PostgreSQL. Every node's live sessions are listed together (any node's
/// CLI can list and kill any session); each row names the node that relays it, and
/// ``endAbandoned(at:)`` ends only this node's: a node restarting must not end the sessions
/// its peers are relaying.
public final class PostgresSessionStore: SessionStore {
    private let database: PostgresDatabase
    /// This node's name (`cluster.node`), written on every session it registers.
    public let node: String

    public init(database: PostgresDatabase, node: String) {
        self.database = database
        self.node = node
    }

    public func register(_ session: SessionRecord) throws {
        try database.run { connection in
            try connection.query(
                """
                INSERT INTO sessions (id, node, user_name, login, target, source_address, kind, started_at, recording)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                """,
                [
                    session.id.rawValue, node, session.user, session.login, session.target, session.sourceAddress, session.kind, session.startedAt,
                    session.recording,
                ]
            )
        }
    }

    public func markEnded(id: SessionID, at date: Date) throws {
        try database.run { connection in try connection.query("UPDATE sessions SET ended_at = $1 WHERE id = $2", [date, id.rawValue]) }
    }

    public func updateTarget(id: SessionID, target: String) throws {
        try database.run { connection in try connection.query("UPDATE sessions SET target = $1 WHERE id = $2", [target, id.rawValue]) }
    }

    public func liveSessions() throws -> [SessionRecord] {
        try database.run { connection in
            try connection.query("SELECT * FROM sessions WHERE ended_at IS NULL ORDER BY started_at").all.map(Self.record(from:))
        }
    }

    public func requestKill(id: SessionID) throws -> Bool {
        try database.run { connection in
            try connection.query("UPDATE sessions SET kill_requested = true WHERE id = $1 AND ended_at IS NULL", [id.rawValue]).changedRows > 0
        }
    }

    public func endRequest(id: SessionID) throws -> SessionEndRequest? {
        try database.run { connection in
            guard let row = try connection.query(
                "SELECT kill_requested, ended_at IS NOT NULL AS ended FROM sessions WHERE id = $1", [id.rawValue]
            ).first else { return nil }
            if try row.bool("ended") { return .endedElsewhere }
            return try row.bool("kill_requested") ? .kill : nil
        }
    }

    public func endAbandoned(at date: Date) throws -> [SessionRecord] {
        try database.run { connection in
            try connection.query(
                "UPDATE sessions SET ended_at = $1 WHERE ended_at IS NULL AND node = $2 RETURNING *", [date, node]
            ).all.map(Self.record(from:)).sorted { $0.startedAt < $1.startedAt }
        }
    }

    public func heartbeat() throws {
        try database.run { connection in
            try connection.query(
                """
                INSERT INTO cluster_nodes (node, last_seen) VALUES ($1, extract(epoch FROM clock_timestamp()))
                ON CONFLICT (node) DO UPDATE SET last_seen = EXCLUDED.last_seen
                """,
                [node]
            )
        }
    }

    /// Silence is measured by the database's clock (nodes' clocks need not agree). One
    /// UPDATE: when two surviving nodes look at once, each orphaned session is returned to
    /// exactly one of them, so its `session.end` is written once.
    public func endSessionsOfSilentNodes(silentFor silence: TimeInterval, at date: Date) throws -> [SessionRecord] {
        try database.run { connection in
            try connection.query(
                """
                UPDATE sessions SET ended_at = $1
                WHERE ended_at IS NULL AND node <> $2 AND node IN (
                    SELECT node FROM cluster_nodes WHERE last_seen < extract(epoch FROM clock_timestamp()) - $3)
                RETURNING *
                """,
                [date, node, silence]
            ).all.map(Self.record(from:)).sorted { $0.startedAt < $1.startedAt }
        }
    }

    private static func record(from row: PostgresRow) throws -> SessionRecord {
        SessionRecord(
            id: SessionID(rawValue: try row.text("id")), user: try row.text("user_name"), login: try row.text("login"), target: try row.text("target"),
            sourceAddress: try row.text("source_address"), kind: try row.text("kind"), startedAt: try row.date("started_at"),
            recording: try row.optionalText("recording")
        )
    }
}
