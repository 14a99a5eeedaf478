import BastionApp
import BastionCore
import BastionStore
import BastionTesting
import Foundation
import Testing

/// Every refusal from the foundation issue, each with the stock OpenSSH client, each
/// audited with its reason while the client learns only "Permission denied".
@Suite("Refused logins")
struct RefusalTests {
    @Test("a key enrolled for nobody")
    func unknownKey() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            let stranger = try await Engineer.makeKey(in: bastion.directory, name: "stranger", type: .ed25519)
            try await bastion.expectRefused(because: "key not enrolled") { try await alice.ssh(["whoami"], keyPath: stranger) }
        }
    }

    @Test("a key used with another user's name")
    func keyOfAnotherUser() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            _ = try await bastion.enroll("bob")
            try await bastion.expectRefused(because: "key is enrolled for another user (alice)") { try await alice.ssh(["whoami"], user: "bob") }
        }
    }

    @Test("a user that does not exist, and a username Bastion cannot parse")
    func unknownAndInvalidUsers() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try await bastion.expectRefused(because: "unknown user") { try await alice.ssh(["whoami"], user: "mallory") }
            try await bastion.expectRefused(because: "invalid username") { try await alice.ssh(["whoami"], user: "Bad!Name") }
        }
    }

    @Test("a locked user, with key + TOTP and with a live certificate; unlock restores access")
    func lockedUser() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            try bastion.administration.lockUser(name: "alice")
            try await bastion.expectRefused(because: "user is locked") { try await alice.ssh(["whoami"], answer: .none, useCertificate: true) }
            bastion.clock.advance(by: 30)
            try await bastion.expectRefused(because: "user is locked") { try await alice.ssh(["whoami"]) }
            try bastion.administration.unlockUser(name: "alice")
            #expect(try await alice.ssh(["whoami"], answer: .none, useCertificate: true).status == 0)
        }
    }

    @Test("a removed user's certificate stops working at once")
    func removedUser() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            try bastion.administration.removeUser(name: "alice")
            try await bastion.expectRefused(because: "unknown user") { try await alice.ssh(["whoami"], answer: .none, useCertificate: true) }
        }
    }

    @Test("a wrong TOTP code")
    func wrongCode() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            let right = try await alice.currentCode()
            let wrong = right == "000000" ? "111111" : "000000"
            try await bastion.expectRefused(because: "wrong TOTP code") { try await alice.ssh(["whoami"], answer: .fixed(wrong)) }
            try await bastion.expectRefused(because: "wrong TOTP code") { try await alice.ssh(["whoami"], answer: .fixed("12345")) }
        }
    }

    @Test("a TOTP code is accepted once, also one step later")
    func replayedCode() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            // Stand still 1 s into a TOTP step, so the test never straddles a step boundary.
            let now = bastion.clock.now().timeIntervalSince1970
            bastion.clock.freeze(at: Date(timeIntervalSince1970: (now / 30).rounded(.down) * 30 + 1))
            let code = try await alice.currentCode()
            #expect(try await alice.ssh(["whoami"], answer: .fixed(code)).status == 0)
            try await bastion.expectRefused(because: "TOTP code already used") { try await alice.ssh(["whoami"], answer: .fixed(code)) }
            bastion.clock.advance(by: 30)  // the old code is still inside the ±1 window
            let again = try await alice.ssh(["whoami"], answer: .fixed(code))
            #expect(again.status == 255)
            #expect(try bastion.denialReasons().filter { $0 == "TOTP code already used" }.count == 2)
        }
    }

    @Test("consecutive failures lock the user out, also for the right code, until the lockout ends")
    func lockout() async throws {
        try await withBastion(extraConfig: "[auth]\nmax_failures = 2\nlockout = \"15m\"") { bastion in
            let alice = try await bastion.enroll("alice")
            let wrong = try await alice.currentCode() == "000000" ? "111111" : "000000"
            _ = try await alice.ssh(["whoami"], answer: .fixed(wrong))
            _ = try await alice.ssh(["whoami"], answer: .fixed(wrong))
            #expect(try bastion.auditRecords("auth.lockout").count == 1)
            try await bastion.expectRefused(because: "locked out") { try await alice.ssh(["whoami"]) }
            bastion.clock.advance(by: 15 * 60 + 1)
            #expect(try await alice.ssh(["whoami"]).status == 0)
        }
    }

    @Test("expired and not-yet-valid certificates")
    func certificateWindow() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            let now = bastion.clock.now()
            try alice.mintCertificate(validAfter: now.addingTimeInterval(-7200), validBefore: now.addingTimeInterval(-3600))
            try await bastion.expectRefused(because: "certificate expired") { try await alice.ssh(["whoami"], answer: .none, useCertificate: true) }
            try alice.mintCertificate(validAfter: now.addingTimeInterval(3600), validBefore: now.addingTimeInterval(7200))
            try await bastion.expectRefused(because: "certificate not yet valid") { try await alice.ssh(["whoami"], answer: .none, useCertificate: true) }
        }
    }

    @Test("a certificate from Bastion expires with the clock")
    func certificateExpiresLater() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate(arguments: ["--ttl", "1h"])
            bastion.clock.advance(by: 3601)
            try await bastion.expectRefused(because: "certificate expired") { try await alice.ssh(["whoami"], answer: .none, useCertificate: true) }
        }
    }

    @Test("a certificate signed by another CA")
    func foreignCA() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.signWithForeignCA()
            try await bastion.expectRefused(because: "signed by an untrusted CA") { try await alice.ssh(["whoami"], answer: .none, useCertificate: true) }
        }
    }

    @Test("a certificate whose principal is not the username")
    func principalMismatch() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            _ = try await bastion.enroll("bob")
            let now = bastion.clock.now()
            try alice.mintCertificate(validAfter: now.addingTimeInterval(-60), validBefore: now.addingTimeInterval(3600), principals: ["bob"])
            try await bastion.expectRefused(because: "user not among the certificate's principals") {
                try await alice.ssh(["whoami"], answer: .none, useCertificate: true)
            }
            try alice.mintCertificate(validAfter: now.addingTimeInterval(-60), validBefore: now.addingTimeInterval(3600))
            try await bastion.expectRefused(because: "user not among the certificate's principals") {
                try await alice.ssh(["whoami"], user: "bob", answer: .none, useCertificate: true)
            }
        }
    }

    @Test("a certificate signed with Bastion's CA key (ssh-keygen -s) that Bastion never issued")
    func certificateOutsideTheLedger() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            let result = try await ProcessRunner.run("ssh-keygen", [
                "-q", "-s", bastion.directory.file("data/user_ca"), "-I", "forged", "-n", "alice", "-V", "-5m:+1h", "-z", "7",
                alice.keyPath + ".pub",
            ])
            #expect(result.status == 0, "ssh-keygen reads Bastion's CA key file: \(result)")
            try await bastion.expectRefused(because: "certificate serial not in Bastion's ledger") {
                try await alice.ssh(["whoami"], answer: .none, useCertificate: true)
            }
        }
    }

    @Test("RSA keys under 3072 bits")
    func weakRSAKey() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            let weak = try await Engineer.makeKey(in: bastion.directory, name: "weak", type: .rsa2048)
            try await bastion.expectRefused(because: "RSA key of 2048 bits") { try await alice.ssh(["whoami"], keyPath: weak) }
            #expect(throws: UserAdministration.Failure.self) {
                try bastion.administration.addKey(name: "alice", key: try String(contentsOfFile: weak + ".pub", encoding: .utf8))
            }
        }
    }

    @Test("SHA-1 (ssh-rsa) signatures, even with an enrolled RSA-3072 key")
    func sha1Signatures() async throws {
        try await withBastion { bastion in
            let dave = try await bastion.enroll("dave", keyType: .rsa3072)
            let result = try await dave.ssh(["whoami"], options: ["-o", "PubkeyAcceptedAlgorithms=ssh-rsa"])
            #expect(result.status == 255, "\(result)")
            #expect(try bastion.auditRecords("auth.login").isEmpty)
            // The same key signing with SHA-2 works.
            #expect(try await dave.ssh(["whoami"]).status == 0)
        }
    }

    @Test("password and keyboard-interactive without a prior key (libssh client)")
    func methodsWithoutKey() async throws {
        try await withBastion { bastion in
            _ = try await bastion.enroll("alice")
            let results = try RawSSHClient.tryPasswordAndKeyboardInteractive(port: bastion.endpoints.sshPort, user: "alice")
            #expect(results.password == false)
            #expect(results.keyboardInteractive == false)
            let reasons = try bastion.denialReasons()
            #expect(reasons.contains("password authentication without a prior accepted key"))
            #expect(reasons.contains("keyboard-interactive authentication without a prior accepted key"))
            // And the stock client, asked for a password, is told only "publickey".
            let alice = try await bastion.enroll("alice2")
            let stock = try await alice.ssh(["whoami"], options: ["-o", "PreferredAuthentications=password,keyboard-interactive"])
            #expect(stock.status == 255)
            #expect(stock.stderr.contains("Permission denied (publickey)"))
        }
    }
}
