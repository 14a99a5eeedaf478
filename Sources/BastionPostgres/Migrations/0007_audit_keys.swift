extension PostgresMigrations {
    /// 0007_audit_keys: the audit key history, and the key each checkpoint names
    /// (docs/audit-chain.md "Audit key rotation"). Checkpoints stored before it name version 1.
    static let auditKeys = Migration(id: "0007_audit_keys", sql: """
        CREATE TABLE audit_keys (
            version integer PRIMARY KEY,
            public_key bytea NOT NULL,
            from_seq bigint NOT NULL,
            time_ms bigint NOT NULL,
            signature bytea NOT NULL
        );
        CREATE TRIGGER audit_keys_append_only BEFORE UPDATE OR DELETE ON audit_keys
            FOR EACH ROW EXECUTE FUNCTION bastion_refuse('the audit key history is append-only and never deleted');
        CREATE TRIGGER audit_keys_not_truncated BEFORE TRUNCATE ON audit_keys
            FOR EACH STATEMENT EXECUTE FUNCTION bastion_refuse('the audit key history is never deleted');
        ALTER TABLE audit_checkpoints ADD COLUMN key_version integer NOT NULL DEFAULT 1;
        """)
}
