import BastionApp
import BastionCore
import BastionSSH
import BastionTesting
import Foundation
import Testing

/// What the front door and the upstream client offer, as stock OpenSSH sees it.
@Suite("Algorithms on both hops")
struct AlgorithmTests {
    /// `ssh … whoami` with a certificate; `options` go first, so they win over the harness's
    /// own (ssh takes the first value of an option), and the log level shows negotiation.
    static func whoami(_ alice: Engineer, _ options: [String], logLevel: String = "INFO") async throws -> ProcessRunner.Result {
        let arguments = options + ["-o", "LogLevel=\(logLevel)"] + alice.clientOptions(useCertificate: true)
            + ["-p", String(alice.harness.endpoints.sshPort), "alice@127.0.0.1", "whoami"]
        return try await ProcessRunner.run("ssh", arguments, timeout: 30)
    }

    @Test(
        "the front door refuses NIST-curve key exchange, SHA-1, CBC and encrypt-and-MAC by default",
        arguments: [
            (["-o", "KexAlgorithms=ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521"], "no matching key exchange method"),
            (["-o", "KexAlgorithms=diffie-hellman-group14-sha1,diffie-hellman-group14-sha256"], "no matching key exchange method"),
            (["-o", "Ciphers=aes128-cbc,aes256-cbc"], "no matching cipher"),
            (["-o", "Ciphers=aes128-ctr", "-o", "MACs=hmac-sha2-256,hmac-sha2-512,hmac-sha1"], "no matching MAC"),
        ]
    )
    func refusedByDefault(options: [String], message: String) async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            let refused = try await Self.whoami(alice, options)
            #expect(refused.status == 255, "\(refused)")
            #expect(refused.stderr.contains(message), "\(refused.stderr)")
            let accepted = try await Self.whoami(alice, ["-o", "Ciphers=aes128-ctr", "-o", "MACs=hmac-sha2-256-etm@openssh.com"])
            #expect(accepted.status == 0, "\(accepted)")
        }
    }

    @Test("strict key exchange (Terrapin) is negotiated with the stock client")
    func strictKeyExchange() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            let result = try await Self.whoami(alice, [], logLevel: "DEBUG3")
            #expect(result.status == 0, "\(result)")
            #expect(result.stderr.contains("will use strict KEX ordering"))
        }
    }

    @Test("a site that lists the FIPS curves gets them offered")
    func configuredCurves() async throws {
        try await withBastion(configure: { $0.ssh.algorithms.keyExchange = ["ecdh-sha2-nistp256", "curve25519-sha256"] }) { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            let nist = try await Self.whoami(alice, ["-o", "KexAlgorithms=ecdh-sha2-nistp256"])
            #expect(nist.status == 0, "\(nist)")
            let dh = try await Self.whoami(alice, ["-o", "KexAlgorithms=diffie-hellman-group16-sha512"])
            #expect(dh.status == 255, "\(dh)")
        }
    }

    @Test("toward targets: strict key exchange with the target's sshd, and no NIST curve offered")
    func upstream() async throws {
        try await withRelay(sshdConfig: ["LogLevel DEBUG3"]) { bastion, sshd in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let result = try await alice.ssh(["true"], user: "root@web01", answer: .none, useCertificate: true)
            #expect(result.status == 0, "\(result)")
            #expect(sshd.log.contains("will use strict KEX ordering"), "the target's sshd did not negotiate strict KEX")
        }
        try await withRelay(sshdConfig: ["KexAlgorithms ecdh-sha2-nistp256,ecdh-sha2-nistp384"]) { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let result = try await alice.ssh(["true"], user: "root@web01", answer: .none, useCertificate: true)
            #expect(result.status == 1, "\(result)")
            #expect(result.stderr == "bastion: target web01 unreachable\n", "\(result.stderr)")
        }
    }
}
