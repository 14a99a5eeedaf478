import BastionCore
import BastionCrypto
import BastionStore
import BastionTesting
import Foundation
import Testing

/// The SQLite stores against real database files (WAL), as the daemon and the admin CLI
/// share them.
@Suite("SQLite stores")
struct SQLiteUserStoreTests {
    static func makeUser(_ handle: DatabasePoolHandle, name: String = "alice") throws -> (UserName, SSHPublicKey) {
        let user = try #require(UserName(name))
        let key = SSHPublicKey(ed25519: try Ed25519PrivateKey().publicKey)
        try handle.users.createUser(User(name: user, roles: ["engineer", "auditor"], createdAt: Date()), key: key, sealedTOTPSecret: [1, 2, 3])
        return (user, key)
    }

    @Test("users, keys and owners round-trip; duplicates conflict")
    func roundTrip() throws {
        let directory = try TemporaryDirectory()
        let handle = try DatabasePoolHandle(path: directory.file("db.sqlite"))
        let (alice, key) = try Self.makeUser(handle)
        #expect(try handle.users.user(named: alice)?.roles == ["engineer", "auditor"])
        #expect(try handle.users.keys(of: alice) == [key])
        #expect(try handle.users.owner(of: key) == alice)
        #expect(throws: StoreError.self) { try Self.makeUser(handle) }
        let bob = try #require(UserName("bob"))
        #expect(throws: StoreError.self) {
            try handle.users.createUser(User(name: bob, roles: [], createdAt: Date()), key: key, sealedTOTPSecret: [])
        }
        #expect(try handle.users.removeUser(named: alice))
        #expect(try handle.users.keys(of: alice).isEmpty)
        #expect(try handle.users.totpState(of: alice) == nil)
    }

    @Test("a TOTP step is consumed once, also by two processes' connections racing")
    func consumeOnce() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("db.sqlite")
        let first = try DatabasePoolHandle(path: path)
        let second = try DatabasePoolHandle(path: path)  // a second pool: like the CLI next to the daemon
        let (alice, _) = try Self.makeUser(first)
        let winners = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<20 {
                let store = index.isMultiple(of: 2) ? first.users : second.users
                group.addTask { (try? store.consumeTOTPStep(1000, for: alice)) ?? false }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1)
        #expect(try !first.users.consumeTOTPStep(999, for: alice))
        #expect(try second.users.consumeTOTPStep(1001, for: alice))
    }

    @Test("failures count up to a lockout; success and unlock clear them")
    func failures() throws {
        let directory = try TemporaryDirectory()
        let handle = try DatabasePoolHandle(path: directory.file("db.sqlite"))
        let (alice, _) = try Self.makeUser(handle)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(try handle.users.recordTOTPFailure(for: alice, now: now, maxFailures: 2, lockout: 60).lockedUntil == nil)
        let locked = try handle.users.recordTOTPFailure(for: alice, now: now, maxFailures: 2, lockout: 60)
        #expect(locked.consecutiveFailures == 2)
        #expect(locked.lockedUntil == now.addingTimeInterval(60))
        try handle.users.clearFailures(of: alice)
        #expect(try handle.users.totpState(of: alice)?.lockedUntil == nil)
        _ = try handle.users.recordTOTPFailure(for: alice, now: now, maxFailures: 2, lockout: 60)
        #expect(try handle.users.consumeTOTPStep(5, for: alice))
        #expect(try handle.users.totpState(of: alice)?.consecutiveFailures == 0)
    }

    @Test("the certificate ledger refuses a duplicate serial; full 64-bit serials round-trip")
    func ledger() throws {
        let directory = try TemporaryDirectory()
        let handle = try DatabasePoolHandle(path: directory.file("db.sqlite"))
        let alice = try #require(UserName("alice"))
        let certificate = IssuedCertificate(
            serial: UInt64.max - 1, user: alice, keyFingerprint: "SHA256:x", keyID: "k",
            validAfter: Date(), validBefore: Date().addingTimeInterval(60), sourceAddress: "::1", issuedAt: Date()
        )
        try handle.ledger.record(certificate)
        #expect(try handle.ledger.certificate(serial: UInt64.max - 1)?.user == alice)
        #expect(throws: StoreError.self) { try handle.ledger.record(certificate) }
    }

    @Test("audit records keep the canonical JSON, in order")
    func auditLog() throws {
        let directory = try TemporaryDirectory()
        let handle = try DatabasePoolHandle(path: directory.file("db.sqlite"))
        let event = AuditEvent(
            type: .authFailed, time: Date(timeIntervalSince1970: 1_800_000_000.5), outcome: .failure,
            actor: .init(user: "alice"), reason: "wrong TOTP code"
        )
        try handle.auditLog.append(event)
        try handle.auditLog.append(AuditEvent(type: .authLogin, time: Date(), actor: .init(user: "alice")))
        let records = try handle.auditLog.records()
        #expect(records.map(\.type) == ["auth.failed", "auth.login"])
        #expect(records[0].json == String(decoding: event.canonicalJSON(), as: UTF8.self))
        #expect(records[0].json.hasPrefix(#"{"actor":{"user":"alice"},"code":"B1001W","outcome":"failure","reason":"wrong TOTP code","severity":"warning","time":"2027-01-15T08:00:00.500Z","type":"auth.failed","v":2}"#))
    }
}
