import BastionCore
import BastionCrypto
import BastionTesting
import Foundation
import Testing

/// Parsers that read what a hostile peer or a corrupt file supplies, fed mutated versions of
/// valid inputs (`Mutator`). `make fuzz` runs each with millions of inputs.
@Suite("Fuzzed parsers")
struct FuzzTests {
    /// Runs `parse` on every input and checks it answers the same twice.
    static func fuzz<Answer: Equatable>(_ seeds: [[UInt8]], seed: UInt64, _ parse: ([UInt8]) -> Answer) {
        var mutator = Mutator(seeds: seeds, seed: seed)
        for round in 0..<Mutator.iterations() {
            let input = mutator.next()
            let answer = parse(input)
            if parse(input) != answer { Issue.record("seed \(seed) round \(round): two answers for \(input)") }
        }
    }

    static func certificate() throws -> SSHCertificate {
        let ca = CertificateAuthority(privateKey: try Ed25519PrivateKey())
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        return try ca.issue(CertificateRequest(
            publicKey: SSHPublicKey(ed25519: try Ed25519PrivateKey().publicKey), serial: 7, keyID: "user=alice serial=7 source=10.0.0.1",
            principals: ["alice"], validAfter: start, validBefore: start.addingTimeInterval(3600),
            criticalOptions: ["source-address": "10.0.0.0/8"], extensions: ["permit-pty"]
        ))
    }

    @Test("SSH usernames: LOGIN@TARGET and Bastion's own names")
    func usernames() {
        let seeds = ["alice", "root@web01", "deploy@db-01.eu", "a@b@c", "x"].map { Array($0.utf8) }
        Self.fuzz(seeds, seed: 1) { SSHUsername(String(decoding: $0, as: UTF8.self))?.text }
    }

    @Test("certificate and public key blobs, and their authorized_keys lines")
    func keysAndCertificates() throws {
        let certificate = try Self.certificate()
        let key = SSHPublicKey(ed25519: try Ed25519PrivateKey().publicKey)
        Self.fuzz([certificate.blob, key.blob], seed: 2) { blob in [(try? SSHCertificate(blob: blob))?.blob, (try? SSHPublicKey(blob: blob))?.blob] }
        Self.fuzz([Array(certificate.authorizedKeysLine.utf8), Array(key.authorizedKeysLine.utf8)], seed: 3) { line in
            let text = String(decoding: line, as: UTF8.self)
            return [(try? SSHCertificate(authorizedKeysLine: text))?.blob, (try? SSHPublicKey(authorizedKeysLine: text))?.blob]
        }
    }

    @Test("OpenSSH private key files")
    func privateKeyFiles() throws {
        let file = OpenSSHPrivateKeyFile.encode(try Ed25519PrivateKey(), comment: "fuzz")
        Self.fuzz([Array(file.utf8)], seed: 4) { (try? OpenSSHPrivateKeyFile.decodeEd25519(String(decoding: $0, as: UTF8.self))) != nil }
    }

    @Test("asciicast recordings, as replay reads them")
    func asciicast() {
        let cast = """
            {"version": 2, "width": 100, "height": 30, "timestamp": 1800000000, "bastion": {"session_id": "s1", "user": "alice"}}
            [0.100000, "o", "hello\\r\\n"]
            [0.300000, "r", "120x40"]
            [0.400000, "m", "elevation"]
            [0.500000, "o", "\\u001b[1mbye\\u001b[0m \\ud83d\\ude00"]
            """
        Self.fuzz([Array(cast.utf8)], seed: 5) { (try? CastPlayback(cast: Data($0)))?.events.count }
    }

    @Test("durations, CIDR lists, PROXY headers, Forwarded and X-Forwarded-For, and audit records")
    func smallGrammars() throws {
        Self.fuzz(["4h", "1h30m", "7y", "15m"].map { Array($0.utf8) }, seed: 6) { try? DurationText.parse(String(decoding: $0, as: UTF8.self)) }
        Self.fuzz(["10.0.0.0/8,192.0.2.7", "::1/128,fd00::/8", "::ffff:10.0.0.0/104"].map { Array($0.utf8) }, seed: 7) {
            (try? CIDRList(String(decoding: $0, as: UTF8.self)))?.blocks.count
        }
        let header = ProxyHeader.signature + [0x21, 0x11, 0, 12, 203, 0, 113, 9, 127, 0, 0, 1, 0x15, 0xB3, 0x08, 0xAE]
        Self.fuzz([header, ProxyHeader.signature + [0x21, 0x21, 0, 36] + [UInt8](repeating: 1, count: 36)], seed: 8) { ProxyHeader.parse($0) }
        let forwarded = ForwardedFor(trustedProxies: try CIDRList("127.0.0.1"))
        let chains = [#"for=192.0.2.60;proto=https, for="[2001:db8::17]:4711""#, "203.0.113.7, 10.0.0.5", "[2001:db8::5]:80"]
        Self.fuzz(chains.map { Array($0.utf8) }, seed: 10) { bytes -> [ForwardedFor.Origin] in
            let text = String(decoding: bytes, as: UTF8.self)
            return [
                forwarded.origin(peerAddress: "127.0.0.1", peerPort: 1, forwarded: [text], xForwardedFor: []),
                forwarded.origin(peerAddress: "127.0.0.1", peerPort: 1, forwarded: [], xForwardedFor: [text]),
            ]
        }
        let record = AuditEvent(type: .authLogin, time: Date(timeIntervalSince1970: 1_800_000_000), actor: .init(user: "alice", method: "certificate"))
        Self.fuzz([record.canonicalJSON()], seed: 9) { (try? AuditEvent(canonicalJSON: $0))?.canonicalJSON() }
    }
}
