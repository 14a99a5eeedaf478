extension PostgresMigrations {
    /// 0001_identities_sessions_elevation: shipped; never edit it, add the next migration instead.
    static let identitiesSessionsElevation = Migration(id: "0001_identities_sessions_elevation", sql: """
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
        """)
}
