import BastionApp
import BastionCore
import BastionStore
import BastionTesting
import Foundation

extension Engineer {
    /// Signs a certificate for this engineer's key with Bastion's own user CA and records it
    /// in the ledger, with whatever window and principals a test needs (expired, future, …).
    func mintCertificate(
        validAfter: Date, validBefore: Date, principals: [String]? = nil, record: Bool = true, serial: UInt64 = .random(in: 1...UInt64.max)
    ) throws {
        let key = try SSHPublicKey(authorizedKeysLine: String(contentsOfFile: keyPath + ".pub", encoding: .utf8))
        let authority = CertificateAuthority(signer: harness.environment.keys.userAuthority)
        let certificate = try authority.issue(CertificateRequest(
            publicKey: key, serial: serial, keyID: "test", principals: principals ?? [name],
            validAfter: validAfter, validBefore: validBefore, extensions: ["permit-pty"]
        ))
        if record, let user = UserName(name) {
            try harness.environment.ledger.record(IssuedCertificate(
                serial: serial, user: user, keyFingerprint: key.fingerprint, keyID: "test",
                validAfter: validAfter, validBefore: validBefore, sourceAddress: "127.0.0.1", issuedAt: Date()
            ))
        }
        try (certificate.authorizedKeysLine + "\n").write(toFile: certificatePath, atomically: true, encoding: .utf8)
    }

    /// Signs this engineer's key with an outside CA made by ssh-keygen (`ssh-keygen -s`).
    func signWithForeignCA(extraArguments: [String] = []) async throws {
        let caPath = harness.directory.file("foreign-ca-\(UUID().uuidString)")
        _ = try await ProcessRunner.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", caPath])
        let copy = harness.directory.file("\(name)-foreign-\(UUID().uuidString)")
        try FileManager.default.copyItem(atPath: keyPath + ".pub", toPath: copy + ".pub")
        let result = try await ProcessRunner.run(
            "ssh-keygen", ["-q", "-s", caPath, "-I", "foreign", "-n", name, "-V", "-5m:+1h"] + extraArguments + [copy + ".pub"]
        )
        guard result.status == 0 else { throw HarnessError(message: "ssh-keygen -s failed: \(result)") }
        try? FileManager.default.removeItem(atPath: certificatePath)
        try FileManager.default.copyItem(atPath: copy + "-cert.pub", toPath: certificatePath)
    }
}
