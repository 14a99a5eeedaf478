import BastionCore
import BastionCrypto
import Foundation
import Testing

@Suite("Certificates issued by our CA, read by ssh-keygen")
struct CertificateTests {
    /// 2023-11-14T22:13:20Z.
    static let start = Date(timeIntervalSince1970: 1_700_000_000)

    static func userKey(_ name: String) throws -> SSHPublicKey {
        let fixtures = try KeysFixtures.get()
        let line = switch name {
        case "ed25519": fixtures.ed25519.publicLine
        case "ecdsa256": fixtures.ecdsa256.publicLine
        default: fixtures.rsa3072.publicLine
        }
        return try SSHPublicKey(authorizedKeysLine: line)
    }

    @Test("`ssh-keygen -L` shows every field we signed", arguments: [
        ("ed25519", "ssh-ed25519-cert-v01@openssh.com", "ED25519-CERT"),
        ("ecdsa256", "ecdsa-sha2-nistp256-cert-v01@openssh.com", "ECDSA-CERT"),
        ("rsa3072", "ssh-rsa-cert-v01@openssh.com", "RSA-CERT"),
    ])
    func sshKeygenListsOurCertificate(keyName: String, certificateType: String, display: String) throws {
        let user = try Self.userKey(keyName)
        let ca = CertificateAuthority(privateKey: try Ed25519PrivateKey())
        let certificate = try ca.issue(CertificateRequest(
            publicKey: user, serial: 42, keyID: "user=alice serial=42", principals: ["alice"],
            validAfter: Self.start, validBefore: Self.start.addingTimeInterval(3600),
            criticalOptions: [:], extensions: ["permit-pty"]
        ))
        #expect(certificate.certificateType == certificateType)
        #expect(certificate.publicKey == user)
        #expect(certificate.signatureKey == ca.publicKey)
        #expect(certificate.kind == .user)
        #expect(certificate.nonce.count == 32)

        let directory = try KeysTempDirectory()
        // ssh-keygen verifies the CA signature while parsing (sshkey.c cert_parse), so a
        // listing at all proves OpenSSH accepts our signature.
        let file = try directory.write(certificate.authorizedKeysLine + "\n", to: "user-cert.pub")
        let lines = try KeysTestTool.sshKeygen(["-L", "-f", file]).stdout
            .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.contains("Type: \(certificateType) user certificate"))
        #expect(lines.contains("Public key: \(display) \(user.fingerprint)"))
        #expect(lines.contains("Signing CA: ED25519 \(ca.publicKey.fingerprint) (using ssh-ed25519)"))
        #expect(lines.contains("Key ID: \"user=alice serial=42\""))
        #expect(lines.contains("Serial: 42"))
        #expect(lines.contains("Valid: from 2023-11-14T22:13:20 to 2023-11-14T23:13:20"))
        #expect(Self.section("Principals:", in: lines) == ["alice"])
        #expect(lines.contains("Critical Options: (none)"))
        #expect(Self.section("Extensions:", in: lines) == ["permit-pty"])

        // Our verifier accepts what our CA made.
        let verifier = CertificateVerifier(trustedAuthority: ca.publicKey, maximumValidity: 4 * 3600)
        try verifier.verify(certificate, principal: "alice", clientAddress: "10.0.0.1", now: Self.start.addingTimeInterval(60))
    }

    @Test("options and extensions are sorted and encoded as ssh-keygen expects")
    func optionsEncoding() throws {
        let user = try Self.userKey("ed25519")
        let ca = CertificateAuthority(privateKey: try Ed25519PrivateKey())
        let certificate = try ca.issue(CertificateRequest(
            publicKey: user, serial: 1, keyID: "k", principals: ["alice", "alice-admin"],
            validAfter: Self.start, validBefore: Self.start.addingTimeInterval(60),
            criticalOptions: ["source-address": "10.0.0.0/8,::1", "force-command": "/bin/true"],
            extensions: ["permit-pty", "permit-agent-forwarding", "permit-X11-forwarding"]
        ))
        #expect(certificate.criticalOptions == ["source-address": "10.0.0.0/8,::1", "force-command": "/bin/true"])
        #expect(certificate.extensions == ["permit-pty": "", "permit-agent-forwarding": "", "permit-X11-forwarding": ""])
        #expect(try SSHCertificate(authorizedKeysLine: certificate.authorizedKeysLine) == certificate)

        let directory = try KeysTempDirectory()
        let file = try directory.write(certificate.authorizedKeysLine + "\n", to: "c-cert.pub")
        let lines = try KeysTestTool.sshKeygen(["-L", "-f", file]).stdout
            .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(Self.section("Principals:", in: lines) == ["alice", "alice-admin"])
        #expect(Self.section("Critical Options:", in: lines) == ["force-command /bin/true", "source-address 10.0.0.0/8,::1"])
        // Byte order: uppercase "X" sorts before lowercase letters.
        #expect(Self.section("Extensions:", in: lines) == ["permit-X11-forwarding", "permit-agent-forwarding", "permit-pty"])
    }

    @Test("requests that make no sense are refused")
    func badRequests() throws {
        let user = try Self.userKey("ed25519")
        let ca = CertificateAuthority(privateKey: try Ed25519PrivateKey())
        #expect(throws: FormatError(.invalidRequest, "")) {
            try ca.issue(CertificateRequest(publicKey: user, serial: 1, keyID: "k", principals: ["a"], validAfter: Self.start, validBefore: Self.start))
        }
        #expect(throws: FormatError(.invalidRequest, "")) {
            try ca.issue(CertificateRequest(publicKey: user, serial: 1, keyID: "k", principals: [""], validAfter: Self.start, validBefore: Self.start.addingTimeInterval(1)))
        }
    }

    @Test("strict parsing: trailing bytes, plain-key lines and mismatched types are refused")
    func strictParsing() throws {
        let user = try Self.userKey("ed25519")
        let ca = CertificateAuthority(privateKey: try Ed25519PrivateKey())
        let certificate = try ca.issue(CertificateRequest(
            publicKey: user, serial: 1, keyID: "k", principals: ["a"],
            validAfter: Self.start, validBefore: Self.start.addingTimeInterval(60)
        ))
        #expect(throws: FormatError(.trailingBytes, "")) { try SSHCertificate(blob: certificate.blob + [0]) }
        #expect(throws: FormatError(.truncated, "")) { try SSHCertificate(blob: Array(certificate.blob.dropLast())) }
        #expect(throws: FormatError(.wrongKind, "")) { try SSHCertificate(authorizedKeysLine: user.authorizedKeysLine) }
        #expect(throws: FormatError(.wrongKind, "")) { try SSHCertificate(blob: user.blob) }
        let base64 = certificate.authorizedKeysLine.split(separator: " ")[1]
        #expect(throws: FormatError(.typeMismatch, "")) {
            try SSHCertificate(authorizedKeysLine: "ssh-rsa-cert-v01@openssh.com \(base64)")
        }
        #expect(throws: FormatError(.unsupportedType, "")) {
            try SSHCertificate(authorizedKeysLine: "ssh-dss-cert-v01@openssh.com \(base64)")
        }
        #expect(certificate.signedBytes.count + 4 + 4 + 11 + 4 + 64 == certificate.blob.count)
    }

    /// The indented lines following a `-L` heading such as "Principals:".
    static func section(_ heading: String, in lines: [String]) -> [String] {
        guard let index = lines.firstIndex(where: { $0.hasPrefix(heading) }) else { return [] }
        let rest = lines[(index + 1)...]
        let end = rest.firstIndex(where: { $0.contains(": ") || $0.hasSuffix(":") }) ?? rest.endIndex
        return Array(rest[..<end]).filter { !$0.isEmpty }
    }
}
