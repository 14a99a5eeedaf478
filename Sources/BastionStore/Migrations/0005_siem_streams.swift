import GRDB

extension SQLiteMigrations {
    /// 0005_siem_streams: shipped; never edit it, add the next migration instead.
    static func migrateSiemStreams(_ db: Database) throws {
        // One row per recording being streamed to a sink: how far it has been sent.
        try db.execute(sql: """
            CREATE TABLE siem_streams (
                sink TEXT NOT NULL,
                session_id TEXT NOT NULL,
                path TEXT NOT NULL,
                delivered_bytes INTEGER NOT NULL DEFAULT 0,
                next_chunk INTEGER NOT NULL DEFAULT 1,
                PRIMARY KEY (sink, session_id)
            );
            """)
    }
}
