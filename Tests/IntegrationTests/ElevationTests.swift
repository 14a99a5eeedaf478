import BastionApp
import BastionCore
import BastionStore
import BastionTesting
import Foundation
import Testing

/// Elevation through the stock OpenSSH client: alice (role `sre`) asks for root on web01, bob
/// (role `lead`) decides with a fresh oathtool code; the grant opens `root@web01` through
/// Bastion and nothing else does.
@Suite("Elevation over SSH", .serialized)
struct ElevationTests {
    static let roles = """
        [roles.sre]
        targets = ["web*"]
        logins = ["deploy"]
        elevated_logins = ["root"]
        max_elevation = "20m"
        [roles.lead]
        approve_targets = ["web*"]
        approve_logins = ["root"]
        """

    /// A relay with alice (sre) and bob (lead, also sre), both holding certificates.
    func withTeam(_ body: (BastionHarness, Engineer, Engineer) async throws -> Void) async throws {
        try await withRelay(extraConfig: Self.roles) { harness, _ in
            let alice = try await harness.enroll("alice", roles: ["sre"])
            let bob = try await harness.enroll("bob", roles: ["lead", "sre"])
            try await alice.fetchCertificate()
            try await bob.fetchCertificate()
            try await body(harness, alice, bob)
        }
    }

    /// `ssh … elevate … --no-wait` as `engineer`; returns the request id it printed.
    func file(_ engineer: Engineer, _ arguments: String = "web01 --reason restart nginx after cert rotation") async throws -> String {
        let result = try await engineer.ssh(["elevate " + arguments + " --no-wait"], useCertificate: true)
        #expect(result.status == 0, "\(result)")
        let id = try #require(result.stdout.firstMatch(of: /request ([0-9a-f]{8})/).map { String($0.1) }, "\(result)")
        return id
    }

    /// `approve ID` / `deny ID --reason …` as `engineer`, typing `code` (default: a fresh
    /// oathtool code at the next TOTP step, since the login spent the current one).
    func decide(_ engineer: Engineer, _ command: String, code: String? = nil, advance: Bool = true) async throws -> ProcessRunner.Result {
        if advance { engineer.harness.clock.advance(by: 30) }
        var typed = code ?? ""
        if code == nil { typed = try await engineer.currentCode() }
        let askpassFree = engineer.clientOptions(useCertificate: true) + ["-p", String(engineer.harness.endpoints.sshPort), "\(engineer.name)@127.0.0.1", command]
        return try await ProcessRunner.run("ssh", askpassFree, input: Data((typed + "\n").utf8), timeout: 30)
    }

    @Test("root on web01 needs a grant: asked, approved by bob with a fresh code, used, dropped")
    func privilegedLogin() async throws {
        try await withTeam { harness, alice, bob in
            let before = try await alice.ssh(["id -un"], user: "root@web01", useCertificate: true)
            #expect(before.status == 1)
            #expect(before.stderr.contains("root on web01 needs an approved elevation"), "\(before)")
            #expect(try await harness.auditDetails("session.denied").last?["login"] == "root")

            let targets = try await alice.ssh(["targets"], useCertificate: true)
            #expect(targets.stdout.contains("deploy,root*") && targets.stdout.contains("* needs a grant"), "\(targets)")

            let id = try await file(alice)
            let pending = try await bob.ssh(["requests --pending"], useCertificate: true)
            #expect(pending.stdout.contains(id) && pending.stdout.contains("alice"), "\(pending)")

            let approval = try await decide(bob, "approve \(id) --comment go ahead")
            #expect(approval.status == 0, "\(approval)")
            #expect(approval.stdout.contains("approved: alice may use root on web01 until"), "\(approval)")

            let during = try await alice.ssh(["id -un"], user: "root@web01", useCertificate: true)
            #expect(during.status == 0, "\(during)")
            #expect(during.stdout == "root\n")
            #expect(try await harness.auditDetails("session.start").last?["elevation_request"] == id)
            let mine = try await alice.ssh(["requests"], useCertificate: true)
            #expect(mine.stdout.contains(id) && mine.stdout.contains("active") && mine.stdout.contains("bob"), "\(mine)")

            let drop = try await alice.ssh(["elevate --drop \(id)"], useCertificate: true)
            #expect(drop.status == 0, "\(drop)")
            let after = try await alice.ssh(["id -un"], user: "root@web01", useCertificate: true)
            #expect(after.status == 1, "\(after)")
            let types = try harness.environment.auditLog.records(type: nil).map(\.type).filter { $0.hasPrefix("elevation.") }
            #expect(types == ["elevation.requested", "elevation.approved", "elevation.active", "elevation.ended"], "\(types)")
        }
    }

    @Test("refused decisions: self-approval, no approver role, wrong, replayed and missing codes, deny; each audited")
    func refusedDecisions() async throws {
        try await withTeam { harness, alice, bob in
            let carol = try await harness.enroll("carol", roles: ["sre"])
            try await carol.fetchCertificate()
            let id = try await file(alice)

            let own = try await decide(alice, "approve \(id)")
            #expect(own.status == 1 && own.stderr.contains("you cannot decide your own request"), "\(own)")
            let notLead = try await decide(carol, "approve \(id)")
            #expect(notLead.status == 1 && notLead.stderr.contains("none of your roles may approve root on web01"), "\(notLead)")
            let wrong = try await decide(bob, "approve \(id)", code: "12345x")
            #expect(wrong.status == 1 && wrong.stderr.contains("wrong TOTP code"), "\(wrong)")
            let missing = try await decide(bob, "approve \(id)", code: "")
            #expect(missing.status == 1 && missing.stderr.contains("TOTP code is required"), "\(missing)")

            // A code that decided once cannot decide again (another request, same step).
            let second = try await file(alice, "web01 --reason second one")
            harness.clock.advance(by: 30)
            let code = try await bob.currentCode()
            let denied = try await decide(bob, "deny \(second) --reason not during the freeze", code: code, advance: false)
            #expect(denied.status == 0 && denied.stdout.contains("denied"), "\(denied)")
            let replay = try await decide(bob, "approve \(id)", code: code, advance: false)
            #expect(replay.status == 1 && replay.stderr.contains("already used"), "\(replay)")
            let onDenied = try await decide(bob, "approve \(second)")
            #expect(onDenied.status == 1 && onDenied.stderr.contains("is denied, not pending"), "\(onDenied)")

            let reasons = try harness.auditRecords("elevation.refused").compactMap { $0["reason"] as? String }
            for expected in ["you cannot decide your own request", "none of your roles may approve", "wrong TOTP code", "a TOTP code is required", "already used"] {
                #expect(reasons.contains { $0.contains(expected) }, "\(expected) not in \(reasons)")
            }
            #expect(try harness.environment.elevations.request(id: ElevationID(rawValue: id))?.state == .requested)
        }
    }

    @Test("elevate waits and shows the decision; Ctrl-C in the terminal withdraws; a request expires")
    func waiting() async throws {
        try await withTeam { harness, alice, bob in
            // Waits until bob approves (no --no-wait): the client returns 0 with the grant. A
            // long-lived `ssh` is spawned, not run with Foundation's Process: it closes inherited
            // descriptors, which would stall every other Process until it exits (ChildSpawner).
            let output = harness.directory.file("elevate-wait.out")
            let pid = try ChildSpawner.spawn(
                [try ProcessRunner.locate("ssh")] + alice.clientOptions(useCertificate: true)
                    + ["-p", String(harness.endpoints.sshPort), "alice@127.0.0.1", "elevate web01 --reason deploy hotfix --for 5m"],
                output: output
            )
            defer { ChildSpawner.terminate(pid) }
            var id: ElevationID?
            _ = try await relayPoll(timeout: 20) {
                id = try harness.environment.elevations.requests(in: [.requested]).first?.id
                return id != nil
            }
            let requestID = try #require(id)
            let approval = try await decide(bob, "approve \(requestID)")
            #expect(approval.status == 0, "\(approval)")
            var status: Int32?
            _ = try await relayPoll(timeout: 15) {
                status = ChildSpawner.exitStatus(pid)
                return status != nil
            }
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            #expect(status == 0, "\(text)")
            #expect(text.contains("approved by bob: root on web01 until"), "\(text)")

            // Ctrl-C through a real terminal (tmux) withdraws the request.
            let tmux = RelayTmux(session: "elevate")
            defer { Task { await tmux.stop() } }
            let command = (["ssh", "-tt"] + alice.clientOptions(useCertificate: true) + ["-p", String(harness.endpoints.sshPort), "alice@127.0.0.1", "elevate web01 --reason will cancel"])
                .map(relayShellQuote).joined(separator: " ") + "; echo exit=$?; sleep 30"
            try await tmux.start(columns: 120, rows: 30, command: command)
            let waiting = try await relayPoll(timeout: 20, interval: .milliseconds(200)) {
                try await tmux.lines().contains { $0.contains("Ctrl-C withdraws") }
            }
            let screen = try await tmux.lines()
            #expect(waiting, "\(screen)")
            try await tmux.run(["send-keys", "-t", "elevate", "C-c"])
            let ended = try await relayPoll(timeout: 20, interval: .milliseconds(200)) {
                try await tmux.lines().contains("exit=130")
            }
            let after = try await tmux.lines()
            #expect(ended, "\(after)")
            #expect(after.contains { $0.contains("withdrawn") }, "\(after)")
            #expect(try harness.auditRecords("elevation.withdrawn").count == 1)

            // Undecided past request_ttl (15m): expired by the sweeper, refused to deciders.
            let late = try await file(alice, "web01 --reason nobody answers")
            harness.clock.advance(by: 15 * 60 + 5)
            let expired = try await relayPoll(timeout: 10) { try harness.auditRecords("elevation.expired").count == 1 }
            #expect(expired)
            let tooLate = try await decide(bob, "approve \(late)")
            #expect(tooLate.stderr.contains("is expired, not pending"), "\(tooLate)")
        }
    }

    @Test("a privileged session ends when its grant is revoked")
    func revokeEndsSession() async throws {
        try await withTeam { harness, alice, bob in
            let id = try await file(alice)
            #expect(try await decide(bob, "approve \(id)").status == 0)
            async let session = alice.ssh(["echo started; sleep 25; echo finished"], user: "root@web01", useCertificate: true)
            _ = try await relayPoll(timeout: 10) { try !harness.environment.sessions.liveSessions().isEmpty }
            let admin = ElevationService.Caller(actor: .init(user: "test-admin", method: "admin-cli"), via: "admin-cli")
            _ = harness.environment.elevation(audit: harness.environment.auditLog).revoke(id: ElevationID(rawValue: id), reason: "incident 42", caller: admin)
            let result = try await session
            #expect(!result.stdout.contains("finished"), "\(result)")
            #expect(result.stderr.contains("your elevation grant \(id) ended; session closed"), "\(result)")
            #expect(try await harness.auditDetails("session.end").last?["end_reason"] == "elevation grant ended")
            #expect(try harness.auditRecords("elevation.revoked").first?["reason"] as? String == "incident 42")
        }
    }
}
