import GRDB

/// The SQLite schema's numbered, append-only migrations, one file each (`NNNN_name.swift`):
/// never edit one that has shipped; add the next file and its line here.
enum SQLiteMigrations {
    static let all: [(name: String, migrate: @Sendable (Database) throws -> Void)] = [
        ("0001_identities", SQLiteMigrations.migrateIdentities),
        ("0002_sessions", SQLiteMigrations.migrateSessions),
        ("0003_audit_chain", AuditSchema.migrateToChain),
        ("0004_siem_outbox", SQLiteMigrations.migrateSiemOutbox),
        ("0005_siem_streams", SQLiteMigrations.migrateSiemStreams),
        ("0006_elevation", SQLiteMigrations.migrateElevation),
        ("0007_session_catalog", SQLiteMigrations.migrateSessionCatalog),
        ("0008_web_sessions", SQLiteMigrations.migrateWebSessions),
        ("0009_blind_session_index", SQLiteMigrations.migrateBlindSessionIndex),
        ("0010_audit_keys", SQLiteMigrations.migrateAuditKeys),
    ]
}
