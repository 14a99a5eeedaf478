import BastionApp
import BastionCore
import BastionTesting
import Foundation

/// Two bastiond nodes (each the same composition root as `bastiond serve`, on its own
/// ports, data directory and daemon thread) on one PostgreSQL database, sharing the key
/// files (copied from the first node's data directory, as docs/ha.md tells operators) and
/// one recording directory, with `web01`: a real sshd trusting their upstream CA.
struct ClusterNodes {
    let a: BastionHarness
    let b: BastionHarness
    let sshd: SSHDFixture
    let recordings: TemporaryDirectory
    let databaseURL: String
}

func withTwoNodes(
    postgres: PostgresFixture? = nil, extraConfig: String = "", _ body: (ClusterNodes) async throws -> Void
) async throws {
    let server = try await offPool { try postgres ?? PostgresFixture.shared() }
    let url = try await offPool { try server.createDatabase() }
    let directoryA = try TemporaryDirectory(prefix: "bastion-node-a")
    let directoryB = try TemporaryDirectory(prefix: "bastion-node-b")
    let recordings = try TemporaryDirectory(prefix: "bastion-shared-recordings")
    let keys = try KeyMaterial.loadOrCreate(in: directoryA.file("data"))
    try FileManager.default.copyItem(atPath: directoryA.file("data"), toPath: directoryB.file("data"))
    let sshd = try await SSHDFixture.start(trustedCA: keys.upstreamAuthorityPublicKey, logins: ["root", "deploy"])
    defer { sshd.stop() }
    func config(node: String) -> String {
        """
        [storage]
        url = "\(url)"
        node = "\(node)"
        [roles.ops]
        targets = ["web*"]
        logins = ["root"]
        [targets.web01]
        address = "127.0.0.1:\(sshd.port)"
        host_key = "\(sshd.hostKey.authorizedKeysLine)"
        \(extraConfig)
        """
    }
    let shared: (inout BastionConfiguration) -> Void = { $0.recording.directory = recordings.path }
    let a = try await BastionHarness(extraConfig: config(node: "node-a"), directory: directoryA, configure: shared)
    let b: BastionHarness
    do {
        b = try await BastionHarness(extraConfig: config(node: "node-b"), directory: directoryB, configure: shared)
    } catch {
        await a.stop()
        throw error
    }
    do {
        try await body(ClusterNodes(a: a, b: b, sshd: sshd, recordings: recordings, databaseURL: url))
    } catch {
        await a.stop()
        await b.stop()
        throw error
    }
    await a.stop()
    await b.stop()
}

extension Engineer {
    /// The same engineer (key, certificate, TOTP secret) talking to another node.
    func on(_ node: BastionHarness) -> Engineer {
        Engineer(name: name, keyPath: keyPath, secret: secret, harness: node)
    }
}
