extension PostgresMigrations {
    /// 0004_cluster_identity: shipped; never edit it, add the next migration instead.
    static let clusterIdentity = Migration(id: "0004_cluster_identity", sql: """
        -- Fingerprints of the keys every node must share (never the keys themselves).
        CREATE TABLE cluster_identity (
            name text PRIMARY KEY,
            fingerprint text NOT NULL,
            recorded_by text NOT NULL,
            recorded_at double precision NOT NULL
        );
        """)
}
