import BastionCore
import BastionCrypto
import Foundation
import Testing

@Suite("CertificateVerifier against certificates signed by `ssh-keygen -s` with our CA file")
struct CertificateVerifierTests {
    /// A CA written with OpenSSHPrivateKeyFile.encode and a user key from ssh-keygen, in a
    /// directory of its own so tests run in parallel.
    struct Setup {
        let directory: KeysTempDirectory
        let ca: CertificateAuthority
        let caFile: String
        let userKey: SSHPublicKey
        let userPublicFile: String

        init() throws {
            directory = try KeysTempDirectory()
            let caKey = try Ed25519PrivateKey()
            ca = CertificateAuthority(privateKey: caKey)
            caFile = try directory.write(OpenSSHPrivateKeyFile.encode(caKey, comment: "bastion-user-ca"), to: "ca")
            let pair = try KeysFixtures.get().ed25519
            userPublicFile = try directory.write(pair.publicLine, to: "user.pub", mode: 0o644)
            userKey = try SSHPublicKey(authorizedKeysLine: pair.publicLine)
        }

        /// `ssh-keygen -s CA -I id <arguments> user.pub`, parsed back.
        func sign(_ arguments: [String], caFile: String? = nil) throws -> SSHCertificate {
            try KeysTestTool.sshKeygen(["-q", "-s", caFile ?? self.caFile, "-I", "id"] + arguments + [userPublicFile])
            return try SSHCertificate(authorizedKeysLine: try directory.read("user-cert.pub"))
        }

        var verifier: CertificateVerifier {
            CertificateVerifier(trustedAuthority: ca.publicKey, maximumValidity: 8 * 3600)
        }

        func verify(_ certificate: SSHCertificate, principal: String = "alice", address: String = "10.1.2.3") throws(CertificateRejection) {
            try verifier.verify(certificate, principal: principal, clientAddress: address, now: Date())
        }
    }

    @Test("a certificate from `ssh-keygen -s` with our CA file is accepted, fields read correctly")
    func accepted() throws {
        let setup = try Setup()
        let certificate = try setup.sign(["-n", "alice", "-V", "+1h", "-z", "42"])
        try setup.verify(certificate)
        #expect(certificate.serial == 42)
        #expect(certificate.keyID == "id")
        #expect(certificate.principals == ["alice"])
        #expect(certificate.kind == .user)
        #expect(certificate.certificateType == "ssh-ed25519-cert-v01@openssh.com")
        #expect(certificate.publicKey == setup.userKey)
        #expect(certificate.signatureKey == setup.ca.publicKey)
        #expect(certificate.signatureAlgorithm == "ssh-ed25519")
        #expect(certificate.criticalOptions.isEmpty)
        #expect(certificate.extensions["permit-pty"] == "")
        #expect(certificate.extensions.count == 5)
        #expect(certificate.validBefore > certificate.validAfter)
    }

    @Test("one flipped byte in the principals or the key ID breaks the signature")
    func tampered() throws {
        let setup = try Setup()
        let certificate = try setup.sign(["-n", "alice", "-V", "+1h", "-z", "42"])
        for (needle, replacement) in [("alice", "alicf"), ("\u{0}\u{0}\u{0}\u{2}id", "\u{0}\u{0}\u{0}\u{2}ie")] {
            let from = Array(needle.utf8)
            let to = Array(replacement.utf8)
            var blob = certificate.blob
            let start = try #require((0 ... blob.count - from.count).first { Array(blob[$0 ..< $0 + from.count]) == from })
            blob.replaceSubrange(start ..< start + from.count, with: to)
            let forged = try SSHCertificate(blob: blob)
            #expect(throws: CertificateRejection.badSignature) {
                try setup.verify(forged, principal: forged.principals.first ?? "alice")
            }
        }
        var signature = certificate.blob
        signature[signature.count - 1] ^= 1
        #expect(throws: CertificateRejection.badSignature) { try setup.verify(try SSHCertificate(blob: signature)) }
    }

    @Test("a certificate from another CA → untrustedCA")
    func otherCA() throws {
        let setup = try Setup()
        let other = try setup.directory.write(OpenSSHPrivateKeyFile.encode(try Ed25519PrivateKey(), comment: "other"), to: "other-ca")
        let certificate = try setup.sign(["-n", "alice", "-V", "+1h"], caFile: other)
        #expect(throws: CertificateRejection.untrustedCA) { try setup.verify(certificate) }
    }

    @Test("a host certificate (-h) → notUserCertificate")
    func hostCertificate() throws {
        let setup = try Setup()
        let certificate = try setup.sign(["-h", "-n", "alice", "-V", "+1h"])
        #expect(certificate.kind == .host)
        #expect(throws: CertificateRejection.notUserCertificate) { try setup.verify(certificate) }
    }

    @Test("validity window: expired, not yet valid, too long, forever", arguments: [
        (["-V", "20200101:20200102"], CertificateRejection.expired),
        (["-V", "20990101:20990102"], CertificateRejection.notYetValid),
        (["-V", "+1d"], CertificateRejection.validityTooLong),
        (["-V", "always:forever"], CertificateRejection.validityTooLong),
    ])
    func validity(arguments: [String], rejection: CertificateRejection) throws {
        let setup = try Setup()
        let certificate = try setup.sign(["-n", "alice"] + arguments)
        #expect(throws: rejection) { try setup.verify(certificate) }
    }

    @Test("validity is checked in whole seconds: valid_after <= now < valid_before")
    func validityBoundaries() throws {
        let setup = try Setup()
        let certificate = try setup.sign(["-n", "alice", "-V", "20300101000000:20300101010000"])
        let after = Date(timeIntervalSince1970: Double(certificate.validAfter))
        let before = Date(timeIntervalSince1970: Double(certificate.validBefore))
        try setup.verifier.verify(certificate, principal: "alice", clientAddress: "10.0.0.1", now: after)
        try setup.verifier.verify(certificate, principal: "alice", clientAddress: "10.0.0.1", now: before.addingTimeInterval(-0.5))
        #expect(throws: CertificateRejection.notYetValid) {
            try setup.verifier.verify(certificate, principal: "alice", clientAddress: "10.0.0.1", now: after.addingTimeInterval(-1))
        }
        #expect(throws: CertificateRejection.expired) {
            try setup.verifier.verify(certificate, principal: "alice", clientAddress: "10.0.0.1", now: before)
        }
    }

    @Test("principal mismatch, and no principals at all (ssh-keygen without -n)")
    func principals() throws {
        let setup = try Setup()
        let bob = try setup.sign(["-n", "bob,carol", "-V", "+1h"])
        #expect(bob.principals == ["bob", "carol"])
        #expect(throws: CertificateRejection.principalMismatch) { try setup.verify(bob) }
        try setup.verify(bob, principal: "carol")
        let anyone = try setup.sign(["-V", "+1h"])
        #expect(anyone.principals.isEmpty)
        #expect(throws: CertificateRejection.noPrincipals) { try setup.verify(anyone) }
    }

    @Test("force-command and unknown critical options are refused")
    func criticalOptions() throws {
        let setup = try Setup()
        let forced = try setup.sign(["-n", "alice", "-V", "+1h", "-O", "force-command=ls"])
        #expect(forced.criticalOptions == ["force-command": "ls"])
        #expect(throws: CertificateRejection.unsupportedCriticalOption("force-command")) { try setup.verify(forced) }
        let verify = try setup.sign(["-n", "alice", "-V", "+1h", "-O", "verify-required"])
        #expect(verify.criticalOptions == ["verify-required": ""])
        #expect(throws: CertificateRejection.unsupportedCriticalOption("verify-required")) { try setup.verify(verify) }
    }

    @Test("source-address is honoured for IPv4, IPv4-mapped IPv6 and IPv6")
    func sourceAddress() throws {
        let setup = try Setup()
        let certificate = try setup.sign(["-n", "alice", "-V", "+1h", "-O", "source-address=10.0.0.0/8,2001:db8::/32"])
        #expect(certificate.criticalOptions == ["source-address": "10.0.0.0/8,2001:db8::/32"])
        try setup.verify(certificate, address: "10.1.2.3")
        try setup.verify(certificate, address: "::ffff:10.200.0.1")
        try setup.verify(certificate, address: "2001:db8::42")
        for address in ["192.168.1.1", "11.0.0.1", "2001:db9::1", "::1", "not-an-address", ""] {
            #expect(throws: CertificateRejection.sourceAddressMismatch, "\(address)") { try setup.verify(certificate, address: address) }
        }
    }

    @Test("a malformed source-address list (signed by our own CA) → unsupportedCriticalOption")
    func malformedSourceAddress() throws {
        let setup = try Setup()
        let start = Date().addingTimeInterval(-60)
        let certificate = try setup.ca.issue(CertificateRequest(
            publicKey: setup.userKey, serial: 1, keyID: "k", principals: ["alice"],
            validAfter: start, validBefore: start.addingTimeInterval(600),
            criticalOptions: ["source-address": "10.0.0.0/33"]
        ))
        #expect(throws: CertificateRejection.unsupportedCriticalOption("source-address")) { try setup.verify(certificate) }
    }
}
