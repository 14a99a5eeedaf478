import BastionCore
import BastionCrypto
import Foundation
import Testing

@Suite("SSH public keys and OpenSSH private key files")
struct KeysTests {
    static let fixtureNames = ["ed25519", "ecdsa256", "rsa2048", "rsa3072"]

    static func pair(_ name: String) throws -> KeysFixtures.KeyPair {
        let fixtures = try KeysFixtures.get()
        switch name {
        case "ed25519": return fixtures.ed25519
        case "ecdsa256": return fixtures.ecdsa256
        case "rsa2048": return fixtures.rsa2048
        default: return fixtures.rsa3072
        }
    }

    @Test("fingerprint, type and size equal `ssh-keygen -lf`", arguments: fixtureNames)
    func fingerprintMatchesSSHKeygen(name: String) throws {
        let pair = try Self.pair(name)
        let key = try SSHPublicKey(authorizedKeysLine: pair.publicLine)
        let directory = try KeysTempDirectory()
        let file = try directory.write(pair.publicLine, to: "key.pub")
        // "256 SHA256:… user-ed25519 (ED25519)"
        let fields = try KeysTestTool.sshKeygen(["-lf", file]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
        #expect(fields.count == 4)
        #expect(key.fingerprint == fields[1])
        #expect(key.comment == pair.name)
        #expect(fields[2] == pair.name)
        #expect("(\(key.displayType))" == fields[3])
        switch key.kind {
        case .ed25519: #expect(name == "ed25519" && fields[0] == "256")
        case .ecdsa(let curve): #expect(name == "ecdsa256" && curve == "nistp256" && fields[0] == "256")
        case .rsa(let bits): #expect(String(bits) == fields[0])
        }
    }

    @Test("RSA modulus size is read correctly: 2048 vs 3072")
    func rsaBits() throws {
        let fixtures = try KeysFixtures.get()
        #expect(try SSHPublicKey(authorizedKeysLine: fixtures.rsa2048.publicLine).kind == .rsa(bits: 2048))
        #expect(try SSHPublicKey(authorizedKeysLine: fixtures.rsa3072.publicLine).kind == .rsa(bits: 3072))
    }

    @Test("authorizedKeysLine round trip; equality ignores the comment")
    func lineRoundTrip() throws {
        let pair = try KeysFixtures.get().ecdsa256
        let key = try SSHPublicKey(authorizedKeysLine: pair.publicLine)
        #expect(key.algorithm == "ecdsa-sha2-nistp256")
        #expect(key.displayType == "ECDSA")
        let parts = pair.publicLine.split(separator: " ")
        #expect(key.authorizedKeysLine == parts[0] + " " + parts[1])
        let bare = try SSHPublicKey(authorizedKeysLine: key.authorizedKeysLine)
        #expect(bare.comment == nil)
        #expect(bare == key)
        #expect(try SSHPublicKey(blob: key.blob) == key)
        let tabbed = try SSHPublicKey(authorizedKeysLine: "\(parts[0])\t\(parts[1])\tlong comment with spaces\n")
        #expect(tabbed.comment == "long comment with spaces")
    }

    @Test("refuses certificates, unknown types, bad Base64, mismatched types and trailing bytes")
    func refusals() throws {
        let ed = try SSHPublicKey(authorizedKeysLine: try KeysFixtures.get().ed25519.publicLine)
        let base64 = String(ed.authorizedKeysLine.split(separator: " ")[1])

        #expect(throws: FormatError(.wrongKind, "")) {
            try SSHPublicKey(authorizedKeysLine: "ssh-ed25519-cert-v01@openssh.com \(base64)")
        }
        #expect(throws: FormatError(.unsupportedType, "")) { try SSHPublicKey(authorizedKeysLine: "ssh-dss \(base64)") }
        #expect(throws: FormatError(.invalidEncoding, "")) { try SSHPublicKey(authorizedKeysLine: "ssh-ed25519 AAAA$$not-base64") }
        #expect(throws: FormatError(.invalidEncoding, "")) { try SSHPublicKey(authorizedKeysLine: "ssh-ed25519 \(base64.dropLast())") }
        #expect(throws: FormatError(.typeMismatch, "")) { try SSHPublicKey(authorizedKeysLine: "ssh-rsa \(base64)") }
        #expect(throws: FormatError.self) { try SSHPublicKey(authorizedKeysLine: "ssh-ed25519") }
        #expect(throws: FormatError.self) { try SSHPublicKey(authorizedKeysLine: "") }

        var trailing = ed.blob
        trailing.append(0)
        let trailingLine = "ssh-ed25519 " + Data(trailing).base64EncodedString()
        #expect(throws: FormatError(.trailingBytes, "")) { try SSHPublicKey(authorizedKeysLine: trailingLine) }

        // A plain-key blob whose inner key is too short.
        var writer = SSHWireWriter()
        writer.writeString("ssh-ed25519")
        writer.writeString([UInt8](repeating: 1, count: 31))
        #expect(throws: FormatError(.invalidField, "")) { try SSHPublicKey(blob: writer.bytes) }
    }

    @Test("SSHPublicKey(ed25519:) matches what ssh-keygen derives")
    func ed25519Conversion() throws {
        let pair = try KeysFixtures.get().ed25519
        let directory = try KeysTempDirectory()
        let file = try directory.write(pair.privateFile, to: "id")
        let decoded = try OpenSSHPrivateKeyFile.decodeEd25519(pair.privateFile)
        let ours = SSHPublicKey(ed25519: decoded.publicKey, comment: "x")
        let theirs = try SSHPublicKey(authorizedKeysLine: try KeysTestTool.sshKeygen(["-y", "-f", file]).stdout)
        #expect(ours == theirs)
        #expect(ours.ed25519PublicKey == decoded.publicKey)
        #expect(try SSHPublicKey(authorizedKeysLine: pair.publicLine) == ours)
    }

    @Test("`ssh-keygen -y` reads our encoded private key file and prints our public key")
    func encodeReadableBySSHKeygen() throws {
        let key = try Ed25519PrivateKey()
        let text = OpenSSHPrivateKeyFile.encode(key, comment: "bastion-user-ca")
        let lines = text.split(separator: "\n")
        #expect(lines.first == "-----BEGIN OPENSSH PRIVATE KEY-----")
        #expect(lines.last == "-----END OPENSSH PRIVATE KEY-----")
        #expect(lines.dropFirst().dropLast().allSatisfy { $0.count <= 70 })
        #expect(lines.dropFirst().dropLast().dropLast().allSatisfy { $0.count == 70 })

        let directory = try KeysTempDirectory()
        let file = try directory.write(text, to: "ca")
        let printed = try KeysTestTool.sshKeygen(["-y", "-f", file]).stdout
        let expected = SSHPublicKey(ed25519: key.publicKey)
        #expect(try SSHPublicKey(authorizedKeysLine: printed) == expected)
        #expect(printed.hasPrefix(expected.authorizedKeysLine))
        #expect(printed.contains("bastion-user-ca"))

        // And back: our decoder reads our encoder.
        #expect(try OpenSSHPrivateKeyFile.decodeEd25519(text).seed == key.seed)
    }

    @Test("decodes a key made by `ssh-keygen -t ed25519 -N ''`; refuses encrypted and non-Ed25519 files")
    func decodeSSHKeygenFiles() throws {
        let fixtures = try KeysFixtures.get()
        let key = try OpenSSHPrivateKeyFile.decodeEd25519(fixtures.ed25519.privateFile)
        #expect(try SSHPublicKey(ed25519: key.publicKey) == SSHPublicKey(authorizedKeysLine: fixtures.ed25519.publicLine))

        #expect(throws: FormatError(.unsupportedPrivateKey, "")) {
            try OpenSSHPrivateKeyFile.decodeEd25519(fixtures.ecdsa256.privateFile)
        }

        let directory = try KeysTempDirectory()
        try KeysTestTool.sshKeygen(["-q", "-t", "ed25519", "-N", "passphrase", "-a", "1", "-f", directory.path("enc")])
        #expect(throws: FormatError(.unsupportedPrivateKey, "")) {
            try OpenSSHPrivateKeyFile.decodeEd25519(try directory.read("enc"))
        }
        #expect(throws: FormatError.self) { try OpenSSHPrivateKeyFile.decodeEd25519("not a key") }

        // A corrupted body (one Base64 character changed) is refused, not misread.
        var corrupted = Array(OpenSSHPrivateKeyFile.encode(try Ed25519PrivateKey(), comment: "c").utf8)
        let target = 36 + 150
        corrupted[target] = corrupted[target] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(throws: FormatError.self) { try OpenSSHPrivateKeyFile.decodeEd25519(String(decoding: corrupted, as: UTF8.self)) }
    }
}
