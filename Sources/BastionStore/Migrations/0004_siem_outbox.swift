import GRDB

extension SQLiteMigrations {
    /// 0004_siem_outbox: shipped; never edit it, add the next migration instead.
    static func migrateSiemOutbox(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE siem_cursors (
                sink TEXT PRIMARY KEY NOT NULL,
                delivered_seq INTEGER NOT NULL,
                delivered_checkpoint INTEGER NOT NULL DEFAULT 0,
                delivered_at TEXT,
                attempts INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                last_error_at TEXT
            );
            CREATE TABLE siem_dead_letters (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                sink TEXT NOT NULL,
                seq INTEGER NOT NULL,
                reason TEXT NOT NULL,
                time TEXT NOT NULL
            );
            CREATE INDEX siem_dead_letters_by_sink ON siem_dead_letters(sink, seq);
            """)
    }
}
