import BastionCore
import Testing

@Suite("PolicyRules")
struct PolicyRulesTests {
    static let ed25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJG0CHKyK+L6cqs4WBIdUgegtNkBJFdy+kOJwvZqiB/Y"
    static let ecdsa =
        "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBLR1CK1x9sVWJ7j0sKPPsx4/HQ28SLcpoU8KV0Dbb4gyv9AoDGsiAcxSCuoTarProqvfgi3w3rrFaHu5iMWMvVA="

    @Test(arguments: ["engineer", "web01", "a.b-c_D", "0"])
    func validNames(name: String) { #expect(PolicyRules.isValidName(name)) }

    @Test(arguments: ["", "web 01", "root@web", "wéb", "a/b", "web*"])
    func invalidNames(name: String) { #expect(!PolicyRules.isValidName(name)) }

    @Test func targetPatternsAllowWildcards() {
        #expect(PolicyRules.isValidTargetPattern("web*"))
        #expect(PolicyRules.isValidTargetPattern("db-0?"))
        #expect(!PolicyRules.isValidTargetPattern("web[0-9]"))
        #expect(!PolicyRules.isValidTargetPattern(""))
    }

    @Test(arguments: ["deploy", "_apt", "a", "www-data", "u.name", String(repeating: "a", count: 32)])
    func validLogins(login: String) { #expect(PolicyRules.isValidLogin(login)) }

    @Test(arguments: ["", "Root", "1user", "-x", "a b", "a@b", String(repeating: "a", count: 33)])
    func invalidLogins(login: String) { #expect(!PolicyRules.isValidLogin(login)) }

    @Test(arguments: [ed25519, ecdsa])
    func acceptsRealHostKeys(key: String) { #expect(PolicyRules.hostKeyProblem(key) == nil) }

    @Test(arguments: [
        ("", "expected"),
        ("ssh-ed25519", "expected"),
        (ed25519 + " root@web01", "comment"),
        ("ssh-dss AAAAB3NzaC1kc3M=", "unsupported key type"),
        ("ssh-ed25519 not*base64", "base64"),
        ("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIJG0CHKyK+L6cqs4WBIdUgegtNkBJFdy+kOJwvZqiB/Y", "does not start with its type"),
        ("ssh-ed25519 AAA=", "too short"),
        ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "holds no key"),
    ])
    func refusesBadHostKeys(key: String, reasonContains: String) {
        let reason = PolicyRules.hostKeyProblem(key)
        #expect(reason?.contains(reasonContains) == true, "\(reason ?? "nil")")
    }

    @Test func ceilingIsOneDay() {
        #expect(PolicyRules.maximumCertificateTTL == 86_400)
        #expect(PolicyRules.certificateExtensions.count == 5)
    }
}
