import BastionApp
import BastionCore
import BastionStore
import BastionTesting
import Foundation
import Testing

/// An engineer's first day, with the stock OpenSSH client: key + TOTP, a certificate,
/// then certificate logins without a code.
@Suite("Login with OpenSSH")
struct LoginTests {
    @Test("key + TOTP from oathtool gives a certificate that ssh-keygen -L reads as specified")
    func keyAndCodeGiveCertificate() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            let before = Date()
            let certificate = try await alice.fetchCertificate()

            let listing = try await ProcessRunner.run("ssh-keygen", ["-L", "-f", alice.certificatePath])
            #expect(listing.status == 0, "\(listing)")
            let text = listing.stdout
            #expect(text.contains("Type: ssh-ed25519-cert-v01@openssh.com user certificate"))
            #expect(text.contains("Principals: \n                alice\n"))
            #expect(text.contains("Critical Options: (none)"))
            #expect(text.contains("Extensions: \n                permit-pty\n"))
            #expect(text.contains("Serial: \(certificate.serial)"))
            #expect(text.contains("Key ID: \"user=alice serial=\(certificate.serial) source=127.0.0.1\""))
            let userCA = bastion.environment.keys.userAuthorityPublicKey
            #expect(text.contains("Signing CA: ED25519 \(userCA.fingerprint)"))

            // Valid from now-30s to now+4h (default TTL).
            let validAfter = Date(timeIntervalSince1970: TimeInterval(certificate.validAfter))
            let validBefore = Date(timeIntervalSince1970: TimeInterval(certificate.validBefore))
            #expect(abs(validAfter.timeIntervalSince(before) + 30) < 5)
            #expect(abs(validBefore.timeIntervalSince(before) - 4 * 3600) < 5)

            // Audited: the issue with serial and fingerprint.
            let issued = try bastion.auditRecords("cert.issue")
            #expect(issued.count == 1)
            let details = issued.first?["details"] as? [String: String]
            #expect(details?["serial"] == String(certificate.serial))
            #expect(details?["fingerprint"] == certificate.publicKey.fingerprint)
        }
    }

    @Test("a second connection with the certificate needs no code")
    func certificateLoginNeedsNoCode() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            let result = try await alice.ssh(["whoami"], answer: .none, useCertificate: true)
            #expect(result.status == 0, "\(result)")
            #expect(result.stdout.contains("user:          alice"))
            #expect(result.stdout.contains("roles:         engineer"))
            #expect(result.stdout.contains("authenticated: certificate"))
            #expect(result.stdout.contains("certificate:   expires "))
            let logins = try bastion.auditRecords("auth.login").compactMap { ($0["actor"] as? [String: Any])?["method"] as? String }
            #expect(logins == ["publickey+totp", "certificate"])
        }
    }

    @Test("whoami after key + TOTP, and a bare ssh -t prints the same and exits 0")
    func whoamiAndMenu() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            let whoami = try await alice.ssh(["whoami"])
            #expect(whoami.status == 0, "\(whoami)")
            #expect(whoami.stdout.contains("authenticated: publickey (ED25519 SHA256:"))
            #expect(whoami.stdout.contains("+ TOTP"))
            #expect(whoami.stdout.contains("certificate:   none on this connection"))

            bastion.clock.advance(by: 30)  // a TOTP step is accepted once only
            try await alice.fetchCertificate()
            let menu = try await alice.ssh([], answer: .none, useCertificate: true, tty: true)
            #expect(menu.status == 0, "\(menu)")
            #expect(menu.stdout.contains("user:          alice\r\n"), "a PTY needs CR LF: \(menu.stdout.debugDescription)")
        }
    }

    @Test("cert --ttl shortens; more than the roles allow is capped at the role's maximum")
    func certificateTTL() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            let short = try await alice.fetchCertificate(arguments: ["--ttl", "1h"])
            #expect(short.validBefore - short.validAfter == 3600 + 30)

            bastion.clock.advance(by: 30)
            let capped = try await alice.ssh(["cert", "--ttl", "8h"])
            #expect(capped.status == 0, "\(capped)")
            #expect(capped.stderr.contains("your roles allow at most 4h"))
            let certificate = try SSHCertificate(authorizedKeysLine: capped.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            #expect(certificate.validBefore - certificate.validAfter == 4 * 3600 + 30)

            bastion.clock.advance(by: 30)
            let bad = try await alice.ssh(["cert", "--ttl", "soon"])
            #expect(bad.status == 2)
            #expect(bad.stderr.contains("invalid --ttl 'soon'"))
        }
    }

    @Test("ECDSA and RSA-3072 keys get certificates of their own type (RSA signs with SHA-2)")
    func otherKeyTypes() async throws {
        try await withBastion { bastion in
            let carol = try await bastion.enroll("carol", keyType: .ecdsa)
            let ecdsa = try await carol.fetchCertificate()
            #expect(ecdsa.certificateType == "ecdsa-sha2-nistp256-cert-v01@openssh.com")
            #expect(try await carol.ssh(["whoami"], answer: .none, useCertificate: true).status == 0)

            let dave = try await bastion.enroll("dave", keyType: .rsa3072)
            let rsa = try await dave.fetchCertificate()
            #expect(rsa.certificateType == "ssh-rsa-cert-v01@openssh.com")
            let listing = try await ProcessRunner.run("ssh-keygen", ["-L", "-f", dave.certificatePath])
            #expect(listing.stdout.contains("Type: ssh-rsa-cert-v01@openssh.com user certificate"))
            #expect(try await dave.ssh(["whoami"], answer: .none, useCertificate: true).status == 0)
        }
    }

    @Test("a certificate cannot extend itself")
    func certificateCannotRenewItself() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            let result = try await alice.ssh(["cert"], answer: .none, useCertificate: true)
            #expect(result.status == 1)
            #expect(result.stdout.isEmpty)
            #expect(result.stderr.contains("log in with your enrolled key and a TOTP code"))
            let refused = try bastion.auditRecords("cert.refused")
            #expect(refused.count == 1)
            #expect(try bastion.auditRecords("cert.issue").count == 1)
        }
    }

    @Test("a role may cap certificates below the default")
    func roleCap() async throws {
        try await withBastion { bastion in
            let erin = try await bastion.enroll("erin", roles: ["auditor"])
            let certificate = try await erin.fetchCertificate()
            #expect(certificate.validBefore - certificate.validAfter == 3600 + 30)
        }
    }

    @Test("a user with no role gets no certificate")
    func noRoleNoCertificate() async throws {
        try await withBastion { bastion in
            let frank = try await bastion.enroll("frank", roles: [])
            let result = try await frank.ssh(["cert"])
            #expect(result.status == 1)
            #expect(result.stderr.contains("no role of frank allows certificates"))
        }
    }
}
