public import BastionCore
import Foundation

/// ``SessionCatalog`` on PostgreSQL: `session_catalog` for the facts, and a `tsvector` of
/// what each session printed (positions stripped, the `simple` configuration: lower-cased
/// words, no stemming), so any node answers "which sessions printed these words". As on
/// SQLite the index holds no copy of the text; the recording stays the only copy.
///
/// Text is split into words as SQLite's tokenizer does (runs of letters and digits). A search
/// word matches when all its tokens appear (`plainto_tsquery`); SQLite's FTS5 also wants them
/// adjacent. Positions are stripped because PostgreSQL caps a `tsvector` at
/// 1 MB; if even the stripped vector of a very wordy session exceeds it, the first 256 KiB
/// of its text are indexed instead.
public final class PostgresSessionCatalog: SessionCatalog {
    private let database: PostgresDatabase
    static let fallbackTextLimit = 256 * 1024

    public init(database: PostgresDatabase) {
        self.database = database
    }

    public func add(_ entries: [SessionCatalogEntry], indexedThrough seq: Int64) throws {
        try database.transaction { connection in
            for entry in entries {
                let session = entry.session
                guard try connection.query("SELECT 1 FROM session_catalog WHERE id = $1", [session.id.rawValue]).first == nil else { continue }
                try connection.query("SAVEPOINT full_text")
                do {
                    try insert(session, text: entry.text, connection)
                } catch PostgresError.server {
                    try connection.query("ROLLBACK TO SAVEPOINT full_text")
                    try insert(session, text: String(decoding: entry.text.utf8.prefix(Self.fallbackTextLimit), as: UTF8.self), connection)
                }
                try connection.query("RELEASE SAVEPOINT full_text")
            }
            try Self.advance(connection, to: seq)
        }
    }

    private func insert(_ session: IndexedSession, text: String, _ connection: PostgresConnection) throws {
        try connection.query(
            """
            INSERT INTO session_catalog (id, user_name, login, target, source_address, started_at, duration, exit_status, end_reason,
                recording, recording_size, recording_sha256, elevation_request, audit_seq, text_index)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, strip(to_tsvector('simple', \(Self.words(15)))))
            ON CONFLICT (id) DO NOTHING
            """,
            [
                session.id.rawValue, session.user, session.login, session.target, session.sourceAddress, session.startedAt, session.duration,
                session.exitStatus, session.endReason, session.recording, session.recordingSize, session.recordingSHA256,
                session.elevationRequest, session.auditSeq, text,
            ]
        )
    }

    public func indexedThrough() throws -> Int64 {
        try database.run { connection in try connection.query("SELECT indexed_seq FROM session_catalog_state").first?.int64("indexed_seq") ?? 0 }
    }

    public func markIndexed(through seq: Int64) throws {
        try database.run { connection in try Self.advance(connection, to: seq) }
    }

    public func session(id: SessionID) throws -> IndexedSession? {
        try database.run { connection in
            try connection.query("SELECT * FROM session_catalog WHERE id = $1", [id.rawValue]).first.map(Self.session(from:))
        }
    }

    public func search(_ query: SessionQuery) throws -> [IndexedSession] {
        var conditions: [String] = []
        var parameters: [any PostgresBindable] = []
        func add(_ condition: (Int) -> String, _ value: any PostgresBindable) {
            parameters.append(value)
            conditions.append(condition(parameters.count))
        }
        if let user = query.user { add({ "user_name = $\($0)" }, user) }
        if let target = query.target { add({ "target = $\($0)" }, target) }
        if let since = query.since { add({ "started_at + duration >= $\($0)" }, since) }
        if let until = query.until { add({ "started_at <= $\($0)" }, until) }
        if query.fullTextQuery != nil, let words = query.grep {
            add({ "text_index @@ plainto_tsquery('simple', \(Self.words($0)))" }, words)
        }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        parameters.append(query.limit)
        let sql = "SELECT * FROM session_catalog \(filter) ORDER BY started_at DESC, position DESC LIMIT $\(parameters.count)"
        return try database.run { connection in try connection.query(sql, parameters).all.map(Self.session(from:)) }
    }

    /// Parameter `index` as words: every run of letters and digits, the rest a separator (as
    /// SQLite's unicode61 tokenizer reads it; PostgreSQL's own parser keeps `/var/log/x` or
    /// `a.b@c` as one token, so `nginx` would not find `/var/log/nginx`).
    private static func words(_ index: Int) -> String {
        "regexp_replace($\(index), '[^[:alnum:]]+', ' ', 'g')"
    }

    private static func advance(_ connection: PostgresConnection, to seq: Int64) throws {
        try connection.query("UPDATE session_catalog_state SET indexed_seq = greatest(indexed_seq, $1)", [seq])
    }

    private static func session(from row: PostgresRow) throws -> IndexedSession {
        IndexedSession(
            id: SessionID(rawValue: try row.text("id")), user: try row.text("user_name"), login: try row.text("login"), target: try row.text("target"),
            sourceAddress: try row.text("source_address"), startedAt: try row.date("started_at"), duration: try row.double("duration"),
            exitStatus: try row.optionalText("exit_status"), endReason: try row.text("end_reason"), recording: try row.optionalText("recording"),
            recordingSize: try row.int("recording_size"), recordingSHA256: try row.optionalText("recording_sha256"),
            elevationRequest: try row.optionalText("elevation_request"), auditSeq: try row.int64("audit_seq")
        )
    }
}
