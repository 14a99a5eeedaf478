import GRDB

extension SQLiteMigrations {
    /// 0008_web_sessions: shipped; never edit it, add the next migration instead.
    static func migrateWebSessions(_ db: Database) throws {
        // Hashes only (SHA-256 of the tokens): the database alone signs nobody in.
        try db.execute(sql: """
            CREATE TABLE web_signin_links (
                token_sha256 TEXT PRIMARY KEY NOT NULL,
                user_name TEXT NOT NULL,
                created_at REAL NOT NULL,
                expires_at REAL NOT NULL,
                used_at REAL
            );
            CREATE TABLE web_sessions (
                token_sha256 TEXT PRIMARY KEY NOT NULL,
                user_name TEXT NOT NULL,
                created_at REAL NOT NULL,
                expires_at REAL NOT NULL
            );
            CREATE INDEX web_sessions_by_expiry ON web_sessions(expires_at);
            """)
    }
}
