import GRDB

extension SQLiteMigrations {
    /// 0007_session_catalog: shipped; never edit it, add the next migration instead.
    static func migrateSessionCatalog(_ db: Database) throws {
        // Filled from session.end audit records (never the other way round): the audit
        // log stays the record, this is an index of it that can be rebuilt.
        try db.execute(sql: """
            CREATE TABLE session_catalog (
                id TEXT PRIMARY KEY NOT NULL,
                user_name TEXT NOT NULL,
                login TEXT NOT NULL,
                target TEXT NOT NULL,
                source_address TEXT NOT NULL,
                started_at REAL NOT NULL,
                duration REAL NOT NULL,
                exit_status TEXT,
                end_reason TEXT NOT NULL,
                recording TEXT,
                recording_size INTEGER NOT NULL,
                recording_sha256 TEXT,
                elevation_request TEXT,
                audit_seq INTEGER NOT NULL
            );
            CREATE INDEX session_catalog_by_start ON session_catalog(started_at);
            CREATE INDEX session_catalog_by_user ON session_catalog(user_name, started_at);
            CREATE INDEX session_catalog_by_target ON session_catalog(target, started_at);
            CREATE VIRTUAL TABLE session_text USING fts5(text, content='', tokenize='unicode61');
            CREATE TABLE session_catalog_state (indexed_seq INTEGER NOT NULL);
            INSERT INTO session_catalog_state VALUES (0);
            """)
    }
}
