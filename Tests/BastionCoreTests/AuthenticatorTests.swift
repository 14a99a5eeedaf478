import BastionCore
import BastionCrypto
import BastionTesting
import Foundation
import Synchronization
import Testing

/// The login decisions, at exact instants (manual clock), against in-memory stores.
@Suite("Authenticator")
struct AuthenticatorTests {
    struct Fixture {
        let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_015))
        let store = InMemoryUserStore()
        let audit = RecordingAuditEmitter()
        let sealer = SecretSealer(masterKey: .random())
        let userCA: Ed25519PrivateKey
        let aliceKey: SSHPublicKey
        let secret = TOTPSecret.random()
        let connection = ConnectionContext(id: "c1", remoteAddress: "192.0.2.7", remotePort: 50000)
        var settings = AuthenticationSettings(totpSkewSteps: 1, maxFailures: 3, lockout: 900)

        init() throws {
            userCA = try Ed25519PrivateKey()
            aliceKey = SSHPublicKey(ed25519: try Ed25519PrivateKey().publicKey)
            let alice = try #require(UserName("alice"))
            try store.createUser(
                User(name: alice, roles: ["engineer"], createdAt: clock.now()), key: aliceKey,
                sealedTOTPSecret: try sealer.sealTOTPSecret(secret, for: alice)
            )
        }

        var authenticator: Authenticator {
            Authenticator(
                users: store, ledger: store, audit: audit, sealer: sealer, clock: clock, settings: settings,
                userAuthority: SSHPublicKey(ed25519: userCA.publicKey)
            )
        }

        /// alice's key certified by the user CA for `validFor` seconds from 30 s ago.
        func aliceCertificate(serial: UInt64, validFor lifetime: TimeInterval) throws -> SSHCertificate {
            let now = clock.now()
            return try CertificateAuthority(privateKey: userCA).issue(CertificateRequest(
                publicKey: aliceKey, serial: serial, keyID: "k", principals: ["alice"],
                validAfter: now.addingTimeInterval(-30), validBefore: now.addingTimeInterval(lifetime), extensions: ["permit-pty"]
            ))
        }

        /// The ledger's entry for that certificate, as `cert` records it.
        func recordIssued(serial: UInt64, validFor lifetime: TimeInterval) throws {
            let now = clock.now()
            try store.record(IssuedCertificate(
                serial: serial, user: try #require(UserName("alice")), keyFingerprint: aliceKey.fingerprint, keyID: "k",
                validAfter: now, validBefore: now.addingTimeInterval(lifetime), sourceAddress: "192.0.2.7", issuedAt: now
            ))
        }

        func code(offsetSteps: Int64 = 0) -> String {
            let totp = TOTP(secret: secret)
            return totp.code(atStep: totp.step(at: clock.now()) + offsetSteps)
        }

        func pending() throws -> Authenticator.PendingLogin {
            guard case .needsTOTP(let pending) = authenticator.evaluateKey(.plain(aliceKey), username: "alice", signed: true, connection: connection) else {
                throw HarnessFailure.unexpected
            }
            return pending
        }

        var lastReason: String? { audit.recorded.last { $0.type == .authFailed }?.reason }
    }

    enum HarnessFailure: Error { case unexpected }

    @Test("an enrolled key is acceptable on probe and asks for TOTP once signed")
    func keyThenCode() throws {
        let fixture = try Fixture()
        guard case .acceptable = fixture.authenticator.evaluateKey(.plain(fixture.aliceKey), username: "alice", signed: false, connection: fixture.connection) else {
            Issue.record("probe should be acceptable")
            return
        }
        let pending = try fixture.pending()
        guard case .authenticated(let identity) = fixture.authenticator.verifyCode(fixture.code(), for: pending, connection: fixture.connection) else {
            Issue.record("right code should authenticate")
            return
        }
        #expect(identity.user.name.rawValue == "alice")
        #expect(fixture.audit.recorded.map(\.type) == [.authKeyAccepted, .authLogin])
    }

    @Test("±1 step is accepted, ±2 is not", arguments: [(-1, true), (1, true), (-2, false), (2, false)])
    func skew(offset: Int64, accepted: Bool) throws {
        let fixture = try Fixture()
        let decision = fixture.authenticator.verifyCode(fixture.code(offsetSteps: offset), for: try fixture.pending(), connection: fixture.connection)
        if case .authenticated = decision { #expect(accepted) } else { #expect(!accepted) }
    }

    @Test("skew 0 accepts only the current step")
    func noSkew() throws {
        var fixture = try Fixture()
        fixture.settings.totpSkewSteps = 0
        let decision = fixture.authenticator.verifyCode(fixture.code(offsetSteps: -1), for: try fixture.pending(), connection: fixture.connection)
        guard case .denied(.wrongCode) = decision else {
            Issue.record("previous step must be refused with skew 0: \(decision)")
            return
        }
    }

    @Test("a used step is never accepted again")
    func replay() throws {
        let fixture = try Fixture()
        let code = fixture.code()
        guard case .authenticated = fixture.authenticator.verifyCode(code, for: try fixture.pending(), connection: fixture.connection) else {
            Issue.record("first use must pass")
            return
        }
        guard case .denied(.replayedCode) = fixture.authenticator.verifyCode(code, for: try fixture.pending(), connection: fixture.connection) else {
            Issue.record("replay must be refused")
            return
        }
        // One step later the same code is still inside the ±1 window: still a replay.
        fixture.clock.advance(by: 30)
        guard case .denied(.replayedCode) = fixture.authenticator.verifyCode(code, for: try fixture.pending(), connection: fixture.connection) else {
            Issue.record("the used step must stay refused")
            return
        }
    }

    @Test("max_failures consecutive wrong codes lock out for the lockout time; the lock ends by itself")
    func lockout() throws {
        let fixture = try Fixture()
        let wrong = fixture.code() == "000000" ? "111111" : "000000"
        for _ in 0..<3 { _ = fixture.authenticator.verifyCode(wrong, for: try fixture.pending(), connection: fixture.connection) }
        #expect(fixture.audit.recorded.contains { $0.type == .authLockout })
        guard case .denied(.lockedOut) = fixture.authenticator.evaluateKey(.plain(fixture.aliceKey), username: "alice", signed: true, connection: fixture.connection) else {
            Issue.record("locked out user must be refused at the key")
            return
        }
        fixture.clock.advance(by: 901)
        guard case .authenticated = fixture.authenticator.verifyCode(fixture.code(), for: try fixture.pending(), connection: fixture.connection) else {
            Issue.record("after the lockout the right code works")
            return
        }
    }

    @Test("a success resets the failure count")
    func successResetsFailures() throws {
        let fixture = try Fixture()
        let wrong = fixture.code() == "000000" ? "111111" : "000000"
        for _ in 0..<2 { _ = fixture.authenticator.verifyCode(wrong, for: try fixture.pending(), connection: fixture.connection) }
        _ = fixture.authenticator.verifyCode(fixture.code(), for: try fixture.pending(), connection: fixture.connection)
        #expect(try fixture.store.totpState(of: #require(UserName("alice")))?.consecutiveFailures == 0)
    }

    @Test("fail closed: if the audit log cannot record the login, there is no login")
    func auditFailureRefusesLogin() throws {
        let fixture = try Fixture()
        let pending = try fixture.pending()
        fixture.audit.setFailing(true)
        guard case .denied(.internalFailure) = fixture.authenticator.verifyCode(fixture.code(), for: pending, connection: fixture.connection) else {
            Issue.record("login must be refused when audit fails")
            return
        }
        guard case .denied(.internalFailure) = fixture.authenticator.evaluateKey(.plain(fixture.aliceKey), username: "alice", signed: true, connection: fixture.connection) else {
            Issue.record("key step must be refused when audit fails")
            return
        }
    }

    @Test("certificates: only ledger certificates log in; LOGIN@TARGET logs in as the certificate's owner")
    func certificates() throws {
        let fixture = try Fixture()
        let certificate = try fixture.aliceCertificate(serial: 42, validFor: 3600)
        guard case .denied(.certificateNotIssuedByBastion) = fixture.authenticator.evaluateKey(.certificate(certificate), username: "alice", signed: true, connection: fixture.connection) else {
            Issue.record("a serial outside the ledger must be refused")
            return
        }
        try fixture.recordIssued(serial: 42, validFor: 3600)
        guard case .authenticated(let identity) = fixture.authenticator.evaluateKey(.certificate(certificate), username: "alice", signed: true, connection: fixture.connection) else {
            Issue.record("a ledger certificate must log in")
            return
        }
        #expect(identity.methodName == "certificate")
        // `root@web01`: the user is whoever the certificate was issued to.
        guard case .authenticated(let session) = fixture.authenticator.evaluateKey(.certificate(certificate), username: "root@web01", signed: true, connection: fixture.connection) else {
            Issue.record("a certificate logs in for LOGIN@TARGET as its owner")
            return
        }
        #expect(session.user.name.rawValue == "alice")
        #expect(session.request == .target(login: "root", target: "web01"))
    }

    /// Counts ledger reads, to see which checks a signed request repeats.
    final class CountingLedger: CertificateLedger {
        let wrapped: InMemoryUserStore
        let reads = Mutex(0)
        init(_ wrapped: InMemoryUserStore) { self.wrapped = wrapped }
        func record(_ certificate: IssuedCertificate) throws { try wrapped.record(certificate) }
        func certificate(serial: UInt64) throws -> IssuedCertificate? {
            reads.withLock { $0 += 1 }
            return try wrapped.certificate(serial: serial)
        }
    }

    @Test("a probe's verified certificate spares the signed request the ledger, never the account or the clock")
    func probedCertificate() throws {
        let fixture = try Fixture()
        let alice = try #require(UserName("alice"))
        let certificate = try fixture.aliceCertificate(serial: 7, validFor: 60)
        try fixture.recordIssued(serial: 7, validFor: 60)
        let ledger = CountingLedger(fixture.store)
        let authenticator = Authenticator(
            users: fixture.store, ledger: ledger, audit: fixture.audit, sealer: fixture.sealer, clock: fixture.clock,
            settings: fixture.settings, userAuthority: SSHPublicKey(ed25519: fixture.userCA.publicKey)
        )
        func probe() throws -> Authenticator.VerifiedCertificate {
            guard case .acceptable(let verified?) = authenticator.evaluateKey(
                .certificate(certificate), username: "root@web01", signed: false, connection: fixture.connection
            ) else { throw HarnessFailure.unexpected }
            return verified
        }
        func signed(_ probed: Authenticator.VerifiedCertificate?, as username: String = "root@web01") -> Authenticator.KeyDecision {
            authenticator.evaluateKey(.certificate(certificate), username: username, signed: true, connection: fixture.connection, probed: probed)
        }

        let verified = try probe()
        let readsAfterProbe = ledger.reads.withLock { $0 }
        #expect(readsAfterProbe >= 1)
        guard case .authenticated(let identity) = signed(verified) else {
            Issue.record("the signed request after the probe must log in")
            return
        }
        #expect(identity.user.name == alice)
        #expect(ledger.reads.withLock { $0 } == readsAfterProbe, "the signed request read the ledger again")

        // Another username is another question: everything is checked again.
        guard case .authenticated = signed(verified, as: "alice") else {
            Issue.record("alice@bastion with her certificate must log in")
            return
        }
        #expect(ledger.reads.withLock { $0 } > readsAfterProbe)

        // The account is read again: locked between probe and signature, refused.
        let beforeLock = try probe()
        _ = try fixture.store.setLocked(true, for: alice)
        guard case .denied(.userLocked) = signed(beforeLock) else {
            Issue.record("a user locked after the probe must be refused")
            return
        }
        _ = try fixture.store.setLocked(false, for: alice)

        // The clock is read again: expired between probe and signature, refused.
        let beforeExpiry = try probe()
        fixture.clock.advance(by: 61)
        guard case .denied(.certificateRejected(.expired)) = signed(beforeExpiry) else {
            Issue.record("a certificate that expired after the probe must be refused")
            return
        }
    }

    @Test("password and keyboard-interactive without a key are audited")
    func refusedMethods() throws {
        let fixture = try Fixture()
        fixture.authenticator.refuseMethod("password", username: "alice", connection: fixture.connection)
        #expect(fixture.lastReason == "password authentication without a prior accepted key")
    }
}

extension AuthenticatorTests {
    @Test("inside an ssh -J jump only the outer user logs in: another user's key or certificate is denied and audited")
    func jumpRequiresTheOuterUser() throws {
        let fixture = try Fixture()
        let certificate = try fixture.aliceCertificate(serial: 42, validFor: 3600)
        try fixture.recordIssued(serial: 42, validFor: 3600)
        let alice = try #require(UserName("alice"))
        let bob = try #require(UserName("bob"))
        guard case .authenticated = fixture.authenticator.evaluateKey(
            .certificate(certificate), username: "root@web01", signed: true, connection: fixture.connection, requiredUser: alice
        ) else {
            Issue.record("alice's certificate inside alice's jump must log in")
            return
        }
        guard case .denied(.notTheJumpUser(outer: "bob")) = fixture.authenticator.evaluateKey(
            .certificate(certificate), username: "root@web01", signed: false, connection: fixture.connection, requiredUser: bob
        ) else {
            Issue.record("alice's certificate inside bob's jump must be refused, on the probe already")
            return
        }
        #expect(fixture.lastReason?.contains("not the jump's user (bob)") == true)
        guard case .denied(.notTheJumpUser) = fixture.authenticator.evaluateKey(
            .plain(fixture.aliceKey), username: "root@web01", signed: true, connection: fixture.connection, requiredUser: bob
        ) else {
            Issue.record("alice's key inside bob's jump must be refused before the code is asked")
            return
        }
        guard case .needsTOTP = fixture.authenticator.evaluateKey(
            .plain(fixture.aliceKey), username: "root@web01", signed: true, connection: fixture.connection, requiredUser: alice
        ) else {
            Issue.record("alice's key inside alice's jump asks for the code")
            return
        }
    }
}
