import GRDB

extension SQLiteMigrations {
    /// 0010_audit_keys: the audit key history, and the key each checkpoint names
    /// (docs/audit-chain.md "Audit key rotation"). Checkpoints stored before it name version 1.
    static func migrateAuditKeys(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE audit_keys (
                version INTEGER PRIMARY KEY NOT NULL,
                public_key BLOB NOT NULL,
                from_seq INTEGER NOT NULL,
                time_ms INTEGER NOT NULL,
                signature BLOB NOT NULL
            );
            CREATE TRIGGER audit_keys_append_only BEFORE UPDATE ON audit_keys
            BEGIN SELECT RAISE(ABORT, 'the audit key history is append-only'); END;
            CREATE TRIGGER audit_keys_kept BEFORE DELETE ON audit_keys
            BEGIN SELECT RAISE(ABORT, 'the audit key history is never deleted'); END;
            ALTER TABLE audit_checkpoints ADD COLUMN key_version INTEGER NOT NULL DEFAULT 1;
            """)
    }
}
