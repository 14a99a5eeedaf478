import BastionApp
import BastionCore
import BastionStore
import BastionTesting
import Foundation
import GRDB
import Testing

/// No audit append, no action: when the audit table refuses writes (a full disk, a broken
/// database), logins and certificates are refused, and nothing is half-done.
@Suite("Fail closed")
struct FailClosedTests {
    /// Makes every insert into the audit table fail, as a full disk would, from another
    /// connection to the same database file (as an outside failure would).
    static func breakAuditLog(_ bastion: BastionHarness) throws {
        let database = try DatabaseQueue(path: bastion.directory.file("data/bastion.sqlite"))
        try database.write { db in
            try db.execute(sql: """
                CREATE TRIGGER audit_full BEFORE INSERT ON audit_records
                BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;
                """)
        }
    }

    static func repairAuditLog(_ bastion: BastionHarness) throws {
        let database = try DatabaseQueue(path: bastion.directory.file("data/bastion.sqlite"))
        try database.write { db in try db.execute(sql: "DROP TRIGGER audit_full") }
    }

    @Test("key + TOTP is refused while the audit log cannot be written, and works again after")
    func loginRefused() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try Self.breakAuditLog(bastion)
            let refused = try await alice.ssh(["whoami"])
            #expect(refused.status == 255, "\(refused)")
            #expect(refused.stdout.isEmpty)
            try Self.repairAuditLog(bastion)
            bastion.clock.advance(by: 30)
            #expect(try await alice.ssh(["whoami"]).status == 0)
        }
    }

    @Test("a certificate login is refused and no certificate is printed while the audit log is down")
    func certificateRefused() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            try Self.breakAuditLog(bastion)
            let refused = try await alice.ssh(["whoami"], answer: .none, useCertificate: true)
            #expect(refused.status == 255, "\(refused)")
            #expect(refused.stdout.isEmpty)
        }
    }
}
