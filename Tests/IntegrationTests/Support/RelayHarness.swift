import BastionApp
import BastionCore
import BastionStore
import BastionTesting
import Foundation

/// A bastion whose config declares `web01`: a real OpenSSH sshd on loopback that trusts
/// only this bastion's upstream CA, with role `ops` granting `root` on `web*`.
func withRelay(
    sshdConfig: [String] = [], extraConfig: String = "", pinnedKey: ((SSHDFixture) -> String)? = nil,
    configure: (inout BastionConfiguration) -> Void = { _ in },
    _ body: (BastionHarness, SSHDFixture) async throws -> Void
) async throws {
    let directory = try TemporaryDirectory(prefix: "bastion-relay")
    // The upstream CA must exist before sshd can trust it: create the key material first.
    let keys = try KeyMaterial.loadOrCreate(in: directory.file("data"))
    let sshd = try await SSHDFixture.start(trustedCA: keys.upstreamAuthorityPublicKey, logins: ["root"], extraConfig: sshdConfig)
    defer { sshd.stop() }
    let hostKey = pinnedKey?(sshd) ?? sshd.hostKey.authorizedKeysLine
    let harness = try await BastionHarness(
        extraConfig: """
            [roles.ops]
            targets = ["web*", "label:env=lab"]
            logins = ["root"]
            [targets.web01]
            address = "127.0.0.1:\(sshd.port)"
            host_key = "\(hostKey)"
            labels = { env = "lab" }
            [targets.db01]
            address = "127.0.0.1:\(sshd.port)"
            host_key = "\(hostKey)"
            \(extraConfig)
            """,
        directory: directory, configure: configure
    )
    do {
        try await body(harness, sshd)
    } catch {
        await harness.stop()
        throw error
    }
    await harness.stop()
}

extension BastionHarness {
    /// The `details` of the audit records of `type`. `session.end` is written just after the
    /// client sees the session close, so this waits (up to 5 s) for at least one record.
    func auditDetails(_ type: String) async throws -> [[String: String]] {
        let deadline = Date().addingTimeInterval(5)
        var records = try auditRecords(type)
        while records.isEmpty, Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))  // never usleep: the bastiond under test shares this pool
            records = try auditRecords(type)
        }
        return records.map { $0["details"] as? [String: String] ?? [:] }
    }
}
