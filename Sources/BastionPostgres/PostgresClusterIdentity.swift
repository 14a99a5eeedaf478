import Foundation

/// The identity every node on one database must share: fingerprints of the host key, the
/// two CAs and the audit key, and a check value of the master key (never the keys).
///
/// Keys stay files, copied by the operator from the first node's data directory
/// (docs/ha.md): no private key enters the database. The first node to start records the
/// fingerprints; a node started with other keys is refused at start, before it could issue
/// certificates no other node accepts, show engineers a second host key behind the load
/// balancer, or sign audit checkpoints with a key the auditors do not know.
public enum PostgresClusterIdentity {
    /// Records `fingerprints` if this is the first node; returns the names whose recorded
    /// fingerprint differs (empty: this node belongs to the cluster).
    public static func claim(_ fingerprints: [String: String], node: String, in database: PostgresDatabase) throws -> [String] {
        try database.transaction { connection in
            for (name, fingerprint) in fingerprints.sorted(by: { $0.key < $1.key }) {
                try connection.query(
                    """
                    INSERT INTO cluster_identity (name, fingerprint, recorded_by, recorded_at) VALUES ($1, $2, $3, $4)
                    ON CONFLICT (name) DO NOTHING
                    """,
                    [name, fingerprint, node, Date()]
                )
            }
            var mismatched: [String] = []
            for row in try connection.query("SELECT name, fingerprint FROM cluster_identity ORDER BY name").all {
                let name = try row.text("name")
                if let mine = fingerprints[name], mine != (try row.text("fingerprint")) { mismatched.append(name) }
            }
            return mismatched
        }
    }
}
