extension PostgresMigrations {
    /// 0005_cluster_nodes: shipped; never edit it, add the next migration instead.
    static let clusterNodes = Migration(id: "0005_cluster_nodes", sql: """
        -- Each node's last heartbeat (database clock): a silent node's sessions are ended by another.
        CREATE TABLE cluster_nodes (
            node text PRIMARY KEY,
            last_seen double precision NOT NULL
        );
        """)
}
