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

    @Test("a certificate login is refused while the audit log is down")
    func certificateLoginRefused() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            try Self.breakAuditLog(bastion)
            let refused = try await alice.ssh(["whoami"], answer: .none, useCertificate: true)
            #expect(refused.status == 255, "\(refused)")
            #expect(refused.stdout.isEmpty)
        }
    }

    @Test("`cert` prints no certificate, says why in one line and exits non-zero when its cert.issue cannot be recorded")
    func noCertificateWithoutItsRecord() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            // Only cert.issue is refused: the login's own records go in, so `cert` itself runs.
            try FailClosedRelayTests.refuse(types: ["cert.issue"], in: bastion)
            let refused = try await alice.ssh(["cert"])
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stdout.isEmpty, "a certificate was printed: \(refused)")
            #expect(refused.stderr == "bastion: certificate could not be issued (internal failure)\n", "\(refused)")
            #expect(try bastion.auditRecords("auth.login").count == 1, "the login went through; only the issue failed")
            #expect(try bastion.auditRecords("cert.issue").isEmpty)

            try FailClosedRelayTests.repair(bastion)
            bastion.clock.advance(by: 30)  // the code just used is spent
            #expect(try await alice.fetchCertificate().principals == ["alice"])
        }
    }
}

/// No record, no session and no forward: with only `session.start` and `forward.open` refused
/// by the audit table, the login works but what it asks for does not happen.
@Suite("Fail closed: relayed sessions and forwards")
struct FailClosedRelayTests {
    static func refuse(types: [String], in bastion: BastionHarness) throws {
        let database = try DatabaseQueue(path: bastion.directory.file("data/bastion.sqlite"))
        try database.write { db in
            try db.execute(sql: """
                CREATE TRIGGER audit_refuses BEFORE INSERT ON audit_records
                WHEN json_extract(NEW.record, '$.event.type') IN (\(types.map { "'\($0)'" }.joined(separator: ",")))
                BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;
                """)
        }
    }

    static func repair(_ bastion: BastionHarness) throws {
        let database = try DatabaseQueue(path: bastion.directory.file("data/bastion.sqlite"))
        try database.write { db in try db.execute(sql: "DROP TRIGGER audit_refuses") }
    }

    @Test("a session whose session.start cannot be recorded does not run; a forward whose forward.open cannot be recorded does not open")
    func sessionAndForwardRefused() async throws {
        try await withRelay(configure: { configuration in
            // The target's own sshd is the forward's destination: any listener will do. Named
            // `localhost`: a target's own address and port would be answered by Bastion itself
            // (ssh -J, JumpTests), not forwarded.
            let port = configuration.policy.targets["web01"]?.port ?? 0
            configuration.policy.roles["ops"]?.directTCPIPDestinations = ["localhost:\(port)"]
        }) { bastion, sshd in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let ssh = try ProcessRunner.locate("ssh")
            let session = alice.clientOptions(useCertificate: true) + ["-p", String(bastion.endpoints.sshPort), "root@web01@127.0.0.1", "echo relayed-ok"]
            let forward = alice.clientOptions(useCertificate: true) + ["-p", String(bastion.endpoints.sshPort), "-W", "localhost:\(sshd.port)", "alice@127.0.0.1"]

            try Self.refuse(types: ["session.start", "forward.open"], in: bastion)
            let refusedSession = try await ProcessRunner.run(ssh, session, timeout: 20)
            #expect(!refusedSession.stdout.contains("relayed-ok"), "\(refusedSession)")
            #expect(refusedSession.status != 0)
            #expect(refusedSession.stderr.contains("audit log unavailable"), "\(refusedSession)")
            let refusedForward = try await ProcessRunner.run(ssh, forward, input: Data(), timeout: 20)
            #expect(!refusedForward.stdout.contains("SSH-2.0"), "\(refusedForward)")
            #expect(refusedForward.status != 0)

            try Self.repair(bastion)
            let session2 = try await ProcessRunner.run(ssh, session, timeout: 20)
            #expect(session2.stdout.contains("relayed-ok"), "\(session2)")
            let forward2 = try await ProcessRunner.run(ssh, forward, input: Data(), timeout: 20)
            #expect(forward2.stdout.contains("SSH-2.0"), "\(forward2)")
        }
    }
}
