extension PostgresMigrations {
    /// 0003_outbox_catalog: shipped; never edit it, add the next migration instead.
    static let outboxCatalog = Migration(id: "0003_outbox_catalog", sql: """
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
        """)
}
