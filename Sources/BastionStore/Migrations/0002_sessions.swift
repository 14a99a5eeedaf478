import GRDB

extension SQLiteMigrations {
    /// 0002_sessions: shipped; never edit it, add the next migration instead.
    static func migrateSessions(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE sessions (
                id TEXT PRIMARY KEY NOT NULL,
                user_name TEXT NOT NULL,
                login TEXT NOT NULL,
                target TEXT NOT NULL,
                source_address TEXT NOT NULL,
                kind TEXT NOT NULL,
                started_at REAL NOT NULL,
                recording TEXT,
                kill_requested INTEGER NOT NULL DEFAULT 0,
                ended_at REAL
            );
            CREATE INDEX sessions_live ON sessions(ended_at);
            """)
    }
}
