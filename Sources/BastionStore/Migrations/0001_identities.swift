import GRDB

extension SQLiteMigrations {
    /// 0001_identities: shipped; never edit it, add the next migration instead.
    static func migrateIdentities(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE users (
                name TEXT PRIMARY KEY NOT NULL,
                roles TEXT NOT NULL,
                locked INTEGER NOT NULL DEFAULT 0,
                created_at REAL NOT NULL
            );
            CREATE TABLE user_keys (
                fingerprint TEXT PRIMARY KEY NOT NULL,
                user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
                key_line TEXT NOT NULL,
                added_at REAL NOT NULL
            );
            CREATE INDEX user_keys_by_user ON user_keys(user_name);
            CREATE TABLE totp_state (
                user_name TEXT PRIMARY KEY NOT NULL REFERENCES users(name) ON DELETE CASCADE,
                sealed_secret BLOB NOT NULL,
                last_used_step INTEGER,
                consecutive_failures INTEGER NOT NULL DEFAULT 0,
                locked_until REAL
            );
            CREATE TABLE certificates (
                serial INTEGER PRIMARY KEY NOT NULL,
                user_name TEXT NOT NULL,
                key_fingerprint TEXT NOT NULL,
                key_id TEXT NOT NULL,
                valid_after REAL NOT NULL,
                valid_before REAL NOT NULL,
                source_address TEXT NOT NULL,
                issued_at REAL NOT NULL
            );
            CREATE TABLE audit_events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                time REAL NOT NULL,
                type TEXT NOT NULL,
                code TEXT NOT NULL,
                event_json BLOB NOT NULL
            );
            CREATE INDEX audit_events_by_type ON audit_events(type);
            """)
    }
}
