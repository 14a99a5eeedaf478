import BastionApp
import BastionCore
import BastionStore
import BastionTesting
import Foundation
import Testing

/// `bastiond elevation list|revoke`, the real executable against a real database file.
@Suite("Elevation admin commands")
struct ElevationCLITests {
    @Test("list shows pending requests and active grants; revoke ends a grant at once, audited with the reason")
    func listAndRevoke() async throws {
        let directory = try TemporaryDirectory(prefix: "bastion-elevation-cli")
        let config = directory.file("bastiond.toml")
        try BastionHarness.configText(in: directory, extra: ElevationTests.roles + """

            [targets.web01]
            address = "127.0.0.1:22"
            host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJG0CHKyK+L6cqs4WBIdUgegtNkBJFdy+kOJwvZqiB/Y"
            """).write(toFile: config, atomically: true, encoding: .utf8)
        let environment = try BastionEnvironment.open(configuration: try BastionConfiguration.load(file: config))
        let administration = environment.administration(administrator: "test-admin")
        var secrets: [String: TOTPSecret] = [:]
        for (name, roles) in [("alice", ["sre"]), ("bob", ["lead"])] {
            let key = try await Engineer.makeKey(in: directory, name: name, type: .ed25519)
            secrets[name] = try administration.addUser(name: name, key: try String(contentsOfFile: key + ".pub", encoding: .utf8), roles: roles).secret
        }
        let elevation = environment.elevation(audit: environment.auditLog)
        let alice = try #require(try environment.users.user(named: UserName("alice")!))
        let caller = ElevationService.Caller(actor: .init(user: "alice"), via: "ssh")
        let granted = try elevation.request(by: alice, target: "web01", login: nil, reason: "deploy", duration: nil, origin: "ssh", caller: caller).get().0
        let code = TOTP(secret: secrets["bob"]!).code(at: Date())
        _ = try elevation.decide(
            id: granted.id, approve: true, approver: UserName("bob")!, proof: .totp(code), comment: "", caller: .init(actor: .init(user: "bob"), via: "ssh")
        ).get()
        let pending = try elevation.request(by: alice, target: "web01", login: nil, reason: "later", duration: nil, origin: "ssh", caller: caller).get().0

        let list = try await BastiondBinary.run(["elevation", "list", "--config", config])
        #expect(list.status == 0, "\(list)")
        let rows = list.stdout.split(separator: "\n")
        #expect(rows.contains { $0.hasPrefix(granted.id.rawValue) && $0.contains("active") && $0.contains("root@web01") }, "\(list.stdout)")
        #expect(rows.contains { $0.hasPrefix(pending.id.rawValue) && $0.contains("requested") && $0.contains("later") }, "\(list.stdout)")

        let revoke = try await BastiondBinary.run(["elevation", "revoke", granted.id.rawValue, "--reason", "incident 7", "--config", config])
        #expect(revoke.status == 0 && revoke.stdout.contains("Revoked \(granted.id)"), "\(revoke)")
        #expect(try elevation.activeGrant(user: "alice", target: "web01", login: "root") == nil)
        let record = try #require(try environment.auditLog.records(type: "elevation.revoked").last)
        #expect(record.json.contains(#""reason":"incident 7""#) && record.json.contains(#""method":"admin-cli""#), "\(record.json)")
        let again = try await BastiondBinary.run(["elevation", "revoke", granted.id.rawValue, "--reason", "twice", "--config", config])
        #expect(again.status != 0 && again.stderr.contains("is not an active grant"), "\(again)")
    }
}
