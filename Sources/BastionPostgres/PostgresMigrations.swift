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

    static let all: [Migration] = [
        Migration(id: "0001_identities_sessions_elevation", sql: """
            CREATE TABLE users (
                name text PRIMARY KEY,
                roles text NOT NULL,
                locked boolean NOT NULL DEFAULT false,
                created_at double precision NOT NULL
            );
            CREATE TABLE user_keys (
                fingerprint text PRIMARY KEY,
                user_name text NOT NULL REFERENCES users(name) ON DELETE CASCADE,
                key_line text NOT NULL,
                added_at double precision NOT NULL
            );
            CREATE INDEX user_keys_by_user ON user_keys(user_name);
            CREATE TABLE totp_state (
                user_name text PRIMARY KEY REFERENCES users(name) ON DELETE CASCADE,
                sealed_secret bytea NOT NULL,
                last_used_step bigint,
                consecutive_failures integer NOT NULL DEFAULT 0,
                locked_until double precision
            );
            CREATE TABLE certificates (
                serial bigint PRIMARY KEY,
                user_name text NOT NULL,
                key_fingerprint text NOT NULL,
                key_id text NOT NULL,
                valid_after double precision NOT NULL,
                valid_before double precision NOT NULL,
                source_address text NOT NULL,
                issued_at double precision NOT NULL
            );
            CREATE TABLE sessions (
                id text PRIMARY KEY,
                node text NOT NULL,
                user_name text NOT NULL,
                login text NOT NULL,
                target text NOT NULL,
                source_address text NOT NULL,
                kind text NOT NULL,
                started_at double precision NOT NULL,
                recording text,
                kill_requested boolean NOT NULL DEFAULT false,
                ended_at double precision
            );
            CREATE INDEX sessions_live ON sessions(node) WHERE ended_at IS NULL;
            CREATE TABLE elevation_requests (
                id text PRIMARY KEY,
                position bigserial NOT NULL,
                requester text NOT NULL,
                target text NOT NULL,
                login text NOT NULL,
                reason text NOT NULL,
                duration double precision NOT NULL,
                origin text NOT NULL,
                state text NOT NULL,
                created_at double precision NOT NULL,
                expires_at double precision NOT NULL,
                approvals_required integer NOT NULL,
                decisions text NOT NULL,
                grant_started_at double precision,
                grant_ends_at double precision,
                closed_at double precision,
                close_reason text,
                link_used boolean NOT NULL DEFAULT false,
                version bigint NOT NULL DEFAULT 0
            );
            CREATE INDEX elevation_requests_by_state ON elevation_requests(state);
            CREATE INDEX elevation_requests_by_requester ON elevation_requests(requester, created_at);
            CREATE TABLE web_signin_links (
                token_sha256 text PRIMARY KEY,
                user_name text NOT NULL,
                created_at double precision NOT NULL,
                expires_at double precision NOT NULL,
                used_at double precision
            );
            CREATE TABLE web_sessions (
                token_sha256 text PRIMARY KEY,
                user_name text NOT NULL,
                created_at double precision NOT NULL,
                expires_at double precision NOT NULL
            );
            CREATE INDEX web_sessions_by_expiry ON web_sessions(expires_at);
            """),
        Migration(id: "0002_audit_chain", sql: """
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
            """),
        Migration(id: "0003_outbox_catalog", sql: """
            CREATE TABLE siem_cursors (
                sink text PRIMARY KEY,
                delivered_seq bigint NOT NULL,
                delivered_checkpoint bigint NOT NULL DEFAULT 0,
                delivered_at text,
                attempts integer NOT NULL DEFAULT 0,
                last_error text,
                last_error_at text
            );
            CREATE TABLE siem_dead_letters (
                id bigserial PRIMARY KEY,
                sink text NOT NULL,
                seq bigint NOT NULL,
                reason text NOT NULL,
                time text NOT NULL
            );
            CREATE INDEX siem_dead_letters_by_sink ON siem_dead_letters(sink, seq);
            CREATE TABLE siem_streams (
                sink text NOT NULL,
                session_id text NOT NULL,
                path text NOT NULL,
                delivered_bytes bigint NOT NULL DEFAULT 0,
                next_chunk bigint NOT NULL DEFAULT 1,
                position bigserial NOT NULL,
                PRIMARY KEY (sink, session_id)
            );
            -- Which node delivers a sink, until when (seconds since 1970, by the database's clock).
            CREATE TABLE outbox_leases (
                sink text PRIMARY KEY,
                node text NOT NULL,
                expires_at double precision NOT NULL
            );
            CREATE TABLE session_catalog (
                id text PRIMARY KEY,
                position bigserial NOT NULL,
                user_name text NOT NULL,
                login text NOT NULL,
                target text NOT NULL,
                source_address text NOT NULL,
                started_at double precision NOT NULL,
                duration double precision NOT NULL,
                exit_status text,
                end_reason text NOT NULL,
                recording text,
                recording_size bigint NOT NULL,
                recording_sha256 text,
                elevation_request text,
                audit_seq bigint NOT NULL,
                text_index tsvector NOT NULL
            );
            CREATE INDEX session_catalog_by_start ON session_catalog(started_at);
            CREATE INDEX session_catalog_by_user ON session_catalog(user_name, started_at);
            CREATE INDEX session_catalog_by_target ON session_catalog(target, started_at);
            CREATE INDEX session_catalog_text ON session_catalog USING gin (text_index);
            CREATE TABLE session_catalog_state (
                only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
                indexed_seq bigint NOT NULL
            );
            INSERT INTO session_catalog_state (indexed_seq) VALUES (0);
            """),
        Migration(id: "0004_cluster_identity", sql: """
            -- Fingerprints of the keys every node must share (never the keys themselves).
            CREATE TABLE cluster_identity (
                name text PRIMARY KEY,
                fingerprint text NOT NULL,
                recorded_by text NOT NULL,
                recorded_at double precision NOT NULL
            );
            """),
        Migration(id: "0005_cluster_nodes", sql: """
            -- Each node's last heartbeat (database clock): a silent node's sessions are ended by another.
            CREATE TABLE cluster_nodes (
                node text PRIMARY KEY,
                last_seen double precision NOT NULL
            );
            """),
    ]

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
