import BastionCore
import Testing

@Suite("Policy changes and the live policy")
struct PolicyChangeTests {
    static let web01 = TargetDefinition(name: "web01", host: "10.0.0.1", port: 22, hostKey: "ssh-ed25519 AAAA1")
    static let web02 = TargetDefinition(name: "web02", host: "10.0.0.2", port: 22, hostKey: "ssh-ed25519 AAAA2")
    static func role(_ name: String, targets: [String], logins: [String] = ["root"]) -> Role {
        Role(name: name, targets: targets, logins: logins, maxCertificateTTL: 3600)
    }

    @Test("roles and targets added, removed and modified, by name, sorted; nothing for an equal policy")
    func names() {
        let old = Policy(roles: ["ops": Self.role("ops", targets: ["web*"]), "dev": Self.role("dev", targets: ["web01"])], targets: ["web01": Self.web01])
        var moved = Self.web01
        moved.host = "10.0.0.9"
        let new = Policy(
            roles: ["ops": Self.role("ops", targets: ["web02"]), "audit": Self.role("audit", targets: [])],
            targets: ["web01": moved, "web02": Self.web02]
        )
        let change = PolicyChange(from: old, to: new)
        #expect(change.roles.added == ["audit"] && change.roles.removed == ["dev"] && change.roles.modified == ["ops"])
        #expect(change.targets.added == ["web02"] && change.targets.removed.isEmpty && change.targets.modified == ["web01"])
        #expect(change.details == ["roles_added": "audit", "roles_removed": "dev", "roles_modified": "ops", "targets_added": "web02", "targets_modified": "web01"])
        #expect(PolicyChange(from: old, to: old).isEmpty && PolicyChange(from: old, to: old).details.isEmpty)
    }

    @Test("a live policy is read as it is now, and its generation counts replacements")
    func live() {
        let live = LivePolicy(Policy(targets: ["web01": Self.web01]))
        #expect(live.current.targets.keys.sorted() == ["web01"] && live.generation == 0)
        live.replace(with: Policy(targets: ["web02": Self.web02]))
        #expect(live.current.targets.keys.sorted() == ["web02"] && live.generation == 1)
        // A service built with the live policy decides under the new one without being rebuilt.
        let source: any PolicySource = live
        #expect(source.current.targets["web01"] == nil)
    }
}
