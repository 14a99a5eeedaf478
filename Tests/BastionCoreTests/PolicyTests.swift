import BastionCore
import Testing

@Suite("Policy")
struct PolicyTests {
    let policy = Policy(
        roles: [
            "engineer": Role(name: "engineer", targets: ["web*"], logins: ["deploy"], maxCertificateTTL: 4 * 3_600),
            "dba": Role(
                name: "dba",
                targets: ["db?", "web01"],
                logins: ["postgres", "deploy"],
                maxCertificateTTL: 8 * 3_600,
                extensions: ["permit-port-forwarding", "permit-pty"]
            ),
            "approver": Role(name: "approver", maxCertificateTTL: 3_600, extensions: []),
        ],
        targets: ["web01": TargetDefinition(name: "web01", host: "10.0.0.5", hostKey: "ssh-ed25519 AAAA")]
    )

    @Test func capIsTheLargestOfTheUsersRoles() {
        #expect(policy.certificateTTLCap(forRoles: ["engineer"]) == 14_400.0)
        #expect(policy.certificateTTLCap(forRoles: ["engineer", "dba"]) == 28_800.0)
        #expect(policy.certificateTTLCap(forRoles: ["approver", "gone"]) == 3_600.0)
    }

    /// No known role, no certificate: the caller refuses when the cap is nil.
    @Test func noKnownRoleMeansNoCap() {
        #expect(policy.certificateTTLCap(forRoles: []) == nil)
        #expect(policy.certificateTTLCap(forRoles: ["gone", "also-gone"]) == nil)
        #expect(Policy.empty.certificateTTLCap(forRoles: ["engineer"]) == nil)
    }

    @Test func extensionsAreTheSortedUnion() {
        #expect(policy.certificateExtensions(forRoles: ["engineer"]) == ["permit-pty"])
        #expect(policy.certificateExtensions(forRoles: ["dba", "engineer"]) == ["permit-port-forwarding", "permit-pty"])
        #expect(policy.certificateExtensions(forRoles: ["approver"]) == [])
        #expect(policy.certificateExtensions(forRoles: ["gone"]) == [])
    }

    @Test func unknownRolesInOrderOnce() {
        #expect(policy.unknownRoles(in: ["engineer", "gone", "dba", "old", "gone"]) == ["gone", "old"])
        #expect(policy.unknownRoles(in: ["engineer"]) == [])
    }

    @Test func loginsOnATarget() {
        #expect(policy.logins(forRoles: ["engineer", "dba"], on: "web01") == ["deploy", "postgres"])
        #expect(policy.logins(forRoles: ["engineer"], on: "web02") == ["deploy"])
        #expect(policy.logins(forRoles: ["engineer"], on: "db1") == [])
        #expect(policy.logins(forRoles: ["approver", "gone"], on: "web01") == [])
    }

    @Test func roleGrants() {
        let engineer = policy.roles["engineer"]!
        #expect(engineer.grants(target: "web01"))
        #expect(!engineer.grants(target: "db1"))
        #expect(engineer.grants(login: "deploy", on: "web42"))
        #expect(!engineer.grants(login: "root", on: "web42"))
        #expect(!policy.roles["approver"]!.grants(target: "web01"))
    }

    @Test func roleDefaultsToAPtyOnly() {
        #expect(Role(name: "r", maxCertificateTTL: 60).extensions == ["permit-pty"])
    }
}
