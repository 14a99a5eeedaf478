import Foundation

/// Bastion's PostgreSQL schema: numbered, append-only migrations (never edit one that has
/// shipped; add the next), recorded in `bastion_migrations`.
///
/// Each migration runs in its own transaction (PostgreSQL's DDL is transactional) under a
/// transaction-level advisory lock, so two nodes starting at once apply each migration once:
/// the second waits, then finds it recorded. The same tables as the SQLite schema, with
/// PostgreSQL types; times stay seconds since 1970 (`double precision`).
enum PostgresMigrations {
    /// `pg_advisory_xact_lock` key for schema changes ("bastion" in ASCII, as an integer).
    static let lockKey: Int64 = 0x62_6173_7469_6F6E

    struct Migration {
        let id: String
        let sql: String
    }

    /// In order, one file each (Migrations/NNNN_name.swift).
    static let all: [Migration] = [identitiesSessionsElevation, auditChain, outboxCatalog, clusterIdentity, clusterNodes, blindSessionIndex, auditKeys]

    /// Applies every migration not yet recorded; returns the ids it applied, in order.
    @discardableResult
    static func run(on database: PostgresDatabase) throws -> [String] {
        try database.transaction { connection in
            try connection.query("SELECT pg_advisory_xact_lock($1)", [lockKey])
            try connection.query("CREATE TABLE IF NOT EXISTS bastion_migrations (id text PRIMARY KEY, applied_at double precision NOT NULL)")
        }
        var applied: [String] = []
        for migration in all {
            let didApply = try database.transaction { connection -> Bool in
                try connection.query("SELECT pg_advisory_xact_lock($1)", [lockKey])
                guard try connection.query("SELECT 1 FROM bastion_migrations WHERE id = $1", [migration.id]).first == nil else { return false }
                try connection.execute(script: migration.sql)
                try connection.query("INSERT INTO bastion_migrations (id, applied_at) VALUES ($1, $2)", [migration.id, Date().timeIntervalSince1970])
                return true
            }
            if didApply { applied.append(migration.id) }
        }
        return applied
    }
}
