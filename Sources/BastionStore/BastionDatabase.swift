public import GRDB
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import BastionCore

/// Opens Bastion's embedded SQLite database and brings its schema up to date.
///
/// WAL mode (GRDB's `DatabasePool`) lets the admin CLI write while the daemon runs; a busy
/// timeout turns brief lock contention between the two processes into a short wait.
public enum BastionDatabase {
    /// Opens (creating if needed) the database file, 0600, and migrates it.
    public static func open(path: String, migrating: Bool = true) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.foreignKeysEnabled = true
        // Durable commits: in WAL mode FULL syncs the log at every commit, so an audit record
        // that was acknowledged survives a power cut (appends are group-committed).
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        // Create the file 0600 before SQLite does: SQLite gives the -wal and -shm files the
        // database file's mode, and they hold the same data.
        if !FileManager.default.fileExists(atPath: path) {
            let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            if fd >= 0 { Glibc.close(fd) }
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        if migrating { try migrator.migrate(pool) }
        return pool
    }

    /// Brings the database file's schema up to date (`bastiond migrate`); returns the ids of
    /// the migrations it applied now and the number the schema has in all.
    public static func migrate(path: String) throws -> (applied: [String], total: Int) {
        let pool = try open(path: path, migrating: false)
        let before = try pool.read { db in try migrator.appliedIdentifiers(db) }
        try migrator.migrate(pool)
        return (migrator.migrations.filter { !before.contains($0) }, migrator.migrations.count)
    }

    /// An in-memory database with the real schema, for tests.
    public static func inMemory() throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        let queue = try DatabaseQueue(configuration: configuration)
        try migrator.migrate(queue)
        return queue
    }

    /// Numbered, append-only migrations: never edit one that has shipped; add the next.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("0001_identities") { db in
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
        migrator.registerMigration("0002_sessions") { db in
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
        migrator.registerMigration("0003_audit_chain", migrate: AuditSchema.migrateToChain)
        migrator.registerMigration("0004_siem_outbox") { db in
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
        migrator.registerMigration("0005_siem_streams") { db in
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
        migrator.registerMigration("0006_elevation") { db in
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
        migrator.registerMigration("0007_session_catalog") { db in
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
        migrator.registerMigration("0008_web_sessions") { db in
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
        return migrator
    }
}
