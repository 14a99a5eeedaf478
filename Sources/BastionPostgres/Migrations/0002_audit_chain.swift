extension PostgresMigrations {
    /// 0002_audit_chain: shipped; never edit it, add the next migration instead.
    static let auditChain = Migration(id: "0002_audit_chain", sql: """
        CREATE TABLE audit_records (
            seq bigint PRIMARY KEY,
            record text NOT NULL,
            hash bytea NOT NULL,
            time text GENERATED ALWAYS AS (record::jsonb #>> '{event,time}') STORED,
            type text GENERATED ALWAYS AS (record::jsonb #>> '{event,type}') STORED,
            user_name text GENERATED ALWAYS AS (record::jsonb #>> '{event,actor,user}') STORED,
            session text GENERATED ALWAYS AS (coalesce(
                record::jsonb #>> '{event,session,id}', record::jsonb #>> '{event,details,session_id}')) STORED,
            target text GENERATED ALWAYS AS (record::jsonb #>> '{event,target}') STORED
        );
        CREATE INDEX audit_records_by_time ON audit_records(time);
        CREATE INDEX audit_records_by_type ON audit_records(type);
        CREATE INDEX audit_records_by_session ON audit_records(session);
        -- One row: the newest seq and hash. Appends lock it, so every node chains after the last.
        CREATE TABLE audit_chain_head (
            only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
            seq bigint NOT NULL,
            hash bytea NOT NULL
        );
        INSERT INTO audit_chain_head (seq, hash) VALUES (0, decode(repeat('00', 32), 'hex'));
        CREATE TABLE audit_checkpoints (
            seq bigint PRIMARY KEY,
            hash bytea NOT NULL,
            time_ms bigint NOT NULL,
            signature bytea NOT NULL
        );
        CREATE TABLE audit_purge_authorization (
            from_seq bigint NOT NULL,
            to_seq bigint NOT NULL
        );
        CREATE TABLE audit_holds (
            id bigserial PRIMARY KEY,
            kind text NOT NULL,
            value text NOT NULL,
            reason text NOT NULL,
            created_at text NOT NULL,
            created_by text NOT NULL,
            removed_at text,
            removed_by text
        );
        CREATE FUNCTION bastion_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '%', TG_ARGV[0]; END $$;
        CREATE FUNCTION bastion_audit_retained() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM audit_purge_authorization WHERE OLD.seq BETWEEN from_seq AND to_seq) THEN
                RAISE EXCEPTION 'audit records are removed only by retention, after their date';
            END IF;
            RETURN OLD;
        END $$;
        CREATE TRIGGER audit_records_append_only BEFORE UPDATE ON audit_records
            FOR EACH ROW EXECUTE FUNCTION bastion_refuse('audit records are append-only');
        CREATE TRIGGER audit_records_retained BEFORE DELETE ON audit_records
            FOR EACH ROW EXECUTE FUNCTION bastion_audit_retained();
        CREATE TRIGGER audit_records_not_truncated BEFORE TRUNCATE ON audit_records
            FOR EACH STATEMENT EXECUTE FUNCTION bastion_refuse('audit records are removed only by retention, after their date');
        CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
            FOR EACH ROW EXECUTE FUNCTION bastion_refuse('audit checkpoints are append-only and never deleted');
        CREATE TRIGGER audit_checkpoints_not_truncated BEFORE TRUNCATE ON audit_checkpoints
            FOR EACH STATEMENT EXECUTE FUNCTION bastion_refuse('audit checkpoints are never deleted');
        CREATE TRIGGER audit_holds_kept BEFORE DELETE ON audit_holds
            FOR EACH ROW EXECUTE FUNCTION bastion_refuse('legal holds are removed with hold remove, never deleted');
        CREATE TRIGGER audit_chain_head_kept BEFORE DELETE ON audit_chain_head
            FOR EACH ROW EXECUTE FUNCTION bastion_refuse('the audit chain head is never deleted');
        """)
}
