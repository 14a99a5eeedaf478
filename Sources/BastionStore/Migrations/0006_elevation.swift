import GRDB

extension SQLiteMigrations {
    /// 0006_elevation: shipped; never edit it, add the next migration instead.
    static func migrateElevation(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE elevation_requests (
                id TEXT PRIMARY KEY NOT NULL,
                requester TEXT NOT NULL,
                target TEXT NOT NULL,
                login TEXT NOT NULL,
                reason TEXT NOT NULL,
                duration REAL NOT NULL,
                origin TEXT NOT NULL,
                state TEXT NOT NULL,
                created_at REAL NOT NULL,
                expires_at REAL NOT NULL,
                approvals_required INTEGER NOT NULL,
                decisions TEXT NOT NULL,
                grant_started_at REAL,
                grant_ends_at REAL,
                closed_at REAL,
                close_reason TEXT,
                link_used INTEGER NOT NULL DEFAULT 0,
                version INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX elevation_requests_by_state ON elevation_requests(state);
            CREATE INDEX elevation_requests_by_requester ON elevation_requests(requester, created_at);
            """)
    }
}
