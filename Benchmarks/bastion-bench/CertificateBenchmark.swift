import BastionCore
import BastionCrypto
import BastionPKCS11
import BastionStore
import Foundation

/// Certificates per second inside one process: first the CA alone (encode, Ed25519 sign,
/// parse back), then the whole `CertificateIssuer` path a `cert` command takes (policy, CA,
/// ledger row, `cert.issue` audit record) on the real schema in an in-memory SQLite.
///
/// The gap between the two is the bookkeeping cost per certificate. The in-memory database
/// leaves out disk syncs, which bastiond's file database pays on every commit.
enum CertificateBenchmark {
    struct Result {
        var signedPerSecond: Double
        var issuedPerSecond: Double
        /// The CA key in a softhsm2 token (the `pkcs11` provider), one thread and four; nil
        /// without softhsm2.
        var tokenSignedPerSecond: (one: Double, four: Double)?
    }

    /// Iterations before each measure, to take first-call costs (OpenSSL provider lookup,
    /// SQLite statement cache) out of the numbers.
    static let warmUp = 50

    static func run(count: Int) throws -> Result {
        let authority = CertificateAuthority(privateKey: try Ed25519PrivateKey())
        let userKey = SSHPublicKey(ed25519: try Ed25519PrivateKey().publicKey, comment: "alice@bench")
        var result = Result(
            signedPerSecond: try signRate(authority: authority, userKey: userKey, count: count),
            issuedPerSecond: try issueRate(authority: authority, userKey: userKey, count: count)
        )
        result.tokenSignedPerSecond = try tokenRates(userKey: userKey, count: count)
        return result
    }

    /// `CertificateAuthority.issue` with the CA key in a throwaway softhsm2 token.
    private static func tokenRates(userKey: SSHPublicKey, count: Int) throws -> (one: Double, four: Double)? {
        let module = "/usr/lib/softhsm/libsofthsm2.so"
        guard FileManager.default.fileExists(atPath: module) else { return nil }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-softhsm-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory + "/tokens", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "directories.tokendir = \(directory)/tokens\nobjectstore.backend = file\nlog.level = ERROR\n"
            .write(toFile: directory + "/softhsm2.conf", atomically: true, encoding: .utf8)
        setenv("SOFTHSM2_CONF", directory + "/softhsm2.conf", 1)
        _ = try ProcessLauncher.output(
            ["softhsm2-util", "--init-token", "--free", "--label", "bench", "--pin", "1234", "--so-pin", "5678"], scratch: directory
        )
        let token = try PKCS11Token(module: try PKCS11Module(path: module), label: "bench", pin: Array("1234".utf8))
        let key = try token.generateEd25519Key(label: "bench-ca")
        let authority = CertificateAuthority(signer: TokenCASigner(token: token, key: key, publicKey: try Ed25519PublicKey(rawRepresentation: key.publicKey)))
        let one = try signRate(authority: authority, userKey: userKey, count: count)
        // Four threads at once: the token's session pool serves them in parallel.
        let perThread = count / 4
        let start = ContinuousClock.now
        DispatchQueue.concurrentPerform(iterations: 4) { _ in _ = try? signRate(authority: authority, userKey: userKey, count: perThread) }
        let four = Double(4 * (perThread + warmUp)) / (ContinuousClock.now - start).seconds
        return (one, four)
    }

    /// The CA key in the token, signing there.
    struct TokenCASigner: Ed25519Signer {
        let token: PKCS11Token
        let key: PKCS11SigningKey
        let publicKey: Ed25519PublicKey
        func signature(for message: [UInt8]) throws -> [UInt8] { try token.sign(message, with: key) }
    }

    /// `CertificateAuthority.issue` alone, with a request shaped like the issuer's.
    private static func signRate(authority: CertificateAuthority, userKey: SSHPublicKey, count: Int) throws -> Double {
        let now = Date()
        func sign(_ serial: Int) throws {
            _ = try authority.issue(CertificateRequest(
                publicKey: userKey, serial: UInt64(serial), keyID: "user=alice serial=\(serial) source=127.0.0.1",
                principals: ["alice"], validAfter: now.addingTimeInterval(-30), validBefore: now.addingTimeInterval(4 * 3600),
                extensions: PolicyRules.defaultExtensions
            ))
        }
        for serial in 0..<warmUp { try sign(serial) }
        let start = ContinuousClock.now
        for serial in warmUp..<(warmUp + count) { try sign(serial) }
        return Double(count) / (ContinuousClock.now - start).seconds
    }

    /// `CertificateIssuer.issue(for:requestedTTL:)` with the ledger and audit log on SQLite.
    private static func issueRate(authority: CertificateAuthority, userKey: SSHPublicKey, count: Int) throws -> Double {
        let store = try DatabasePoolHandle.inMemory()
        let policy = Policy(roles: [
            "engineer": Role(name: "engineer", targets: ["web*"], logins: ["deploy"], maxCertificateTTL: 4 * 3600),
        ])
        let issuer = CertificateIssuer(
            authority: authority, ledger: store.ledger, audit: store.auditLog, policy: policy,
            settings: CertificateIssuer.Settings(), clock: SystemWallClock()
        )
        guard let alice = UserName("alice") else { throw BenchError("invalid user name") }
        let identity = AuthenticatedIdentity(
            user: User(name: alice, roles: ["engineer"], createdAt: Date()), method: .keyAndTOTP(key: userKey), request: .bastion(alice),
            authenticatedAt: Date(), connection: ConnectionContext(id: "bench", remoteAddress: "127.0.0.1", remotePort: 40000)
        )
        func issue() throws {
            if case .refused(let message) = issuer.issue(for: identity, requestedTTL: nil) {
                throw BenchError("CertificateIssuer refused: \(message)")
            }
        }
        for _ in 0..<warmUp { try issue() }
        let start = ContinuousClock.now
        for _ in 0..<count { try issue() }
        let rate = Double(count) / (ContinuousClock.now - start).seconds

        // Every certificate must have left its audit record, or the rate measured a shortcut.
        let recorded = try store.auditLog.records(type: AuditEventType.certIssue.name).count
        guard recorded == warmUp + count else {
            throw BenchError("expected \(warmUp + count) cert.issue audit records, found \(recorded)")
        }
        return rate
    }
}
