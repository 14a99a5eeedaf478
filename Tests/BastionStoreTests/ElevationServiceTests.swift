import BastionCore
import BastionCrypto
import BastionStore
import BastionTesting
import Foundation
import Testing

/// The elevation rules end to end on the real SQLite stores: who may ask, who may decide, with
/// which proof, and what each step writes to the audit log.
@Suite("Elevation service")
struct ElevationServiceTests {
    /// alice (engineer) asks; bob and carol (leads) may approve `root` on `web*`; dave may not.
    final class World {
        let directory: TemporaryDirectory
        let handle: DatabasePoolHandle
        let clock = ManualClock()
        let sealer = SecretSealer(masterKey: .random())
        var secrets: [String: TOTPSecret] = [:]
        var settings = ElevationSettings()

        init(approvalsRequired: Int = 1, endWithSession: Bool = false) throws {
            directory = try TemporaryDirectory()
            handle = try DatabasePoolHandle(path: directory.file("db.sqlite"))
            settings.approvalsRequired = approvalsRequired
            settings.endWithSession = endWithSession
            for (name, roles) in [("alice", ["engineer"]), ("bob", ["lead", "engineer"]), ("carol", ["lead"]), ("dave", ["engineer"])] {
                let secret = TOTPSecret.random()
                secrets[name] = secret
                let user = UserName(name)!
                try handle.users.createUser(
                    User(name: user, roles: roles, createdAt: clock.now()), key: SSHPublicKey(ed25519: try Ed25519PrivateKey().publicKey),
                    sealedTOTPSecret: try sealer.sealTOTPSecret(secret, for: user)
                )
            }
        }

        var policy: Policy {
            var engineer = Role(name: "engineer", targets: ["web*"], logins: ["deploy"], maxCertificateTTL: 3_600)
            engineer.elevatedLogins = ["root"]
            engineer.maxElevation = 30 * 60
            var lead = Role(name: "lead", maxCertificateTTL: 3_600)
            lead.approveTargets = ["web*"]
            lead.approveLogins = ["root"]
            return Policy(
                roles: ["engineer": engineer, "lead": lead],
                targets: ["web01": TargetDefinition(name: "web01", host: "127.0.0.1", hostKey: "ssh-ed25519 AAAA")]
            )
        }

        var service: ElevationService {
            ElevationService(
                store: handle.elevations, users: handle.users, policy: policy, settings: settings,
                stepUp: StepUpVerifier(users: handle.users, sealer: sealer, settings: AuthenticationSettings()),
                audit: handle.auditLog, clock: clock, links: ApprovalLink(key: Array(repeating: 7, count: 32), publicURL: "https://bastion.example/")
            )
        }

        func user(_ name: String) throws -> User { try #require(try handle.users.user(named: UserName(name)!)) }
        func code(_ name: String) -> String { TOTP(secret: secrets[name]!).code(at: clock.now()) }
        func caller(_ name: String, via: String = "ssh") -> ElevationService.Caller {
            .init(actor: .init(user: name, method: "test"), via: via)
        }
        func types() throws -> [String] { try handle.auditLog.records(type: nil).map(\.type) }

        func file(_ reason: String = "restart nginx", duration: TimeInterval? = nil) throws -> ElevationRequest {
            try service.request(
                by: user("alice"), target: "web01", login: nil, reason: reason, duration: duration, origin: "ssh", caller: caller("alice")
            ).get().0
        }

        func decide(_ id: ElevationID, by name: String, approve: Bool = true, code: String? = nil) -> Result<ElevationRequest, ElevationRefusal> {
            service.decide(id: id, approve: approve, approver: UserName(name)!, proof: .totp(code ?? self.code(name)), comment: "ok", caller: caller(name))
        }
    }

    @Test("request, approval by a second engineer with a fresh code, grant for the requested time, then time up")
    func happyPath() throws {
        let world = try World()
        let request = try world.file(duration: 10 * 60)
        #expect(request.login == "root" && request.state == .requested && request.duration == 600)
        #expect(try world.service.activeGrant(user: "alice", target: "web01", login: "root") == nil)
        let approved = try world.decide(request.id, by: "bob").get()
        #expect(approved.state == .active)
        #expect(approved.grantEndsAt == world.clock.now().addingTimeInterval(600))
        #expect(try world.service.activeGrant(user: "alice", target: "web01", login: "root")?.id == request.id)
        world.clock.advance(by: 601)
        #expect(try world.service.activeGrant(user: "alice", target: "web01", login: "root") == nil)
        #expect(world.service.sweepDue().map(\.state) == [.ended])
        #expect(try world.types().suffix(4) == ["elevation.requested", "elevation.approved", "elevation.active", "elevation.ended"])
    }

    @Test("approver ≠ requester always: alice cannot approve her own request, even holding an approver role")
    func selfApproval() throws {
        let world = try World()
        // bob holds both roles: he may ask, and others' requests he may decide, never his own.
        let request = try world.service.request(
            by: world.user("bob"), target: "web01", login: "root", reason: "fix", duration: nil, origin: "ssh", caller: world.caller("bob")
        ).get().0
        #expect(world.decide(request.id, by: "bob") == .failure(.selfApproval))
        let refusals = try world.handle.auditLog.records(type: "elevation.refused")
        #expect(refusals.last?.json.contains("you cannot decide your own request") == true)
        // The refused attempt did not spend bob's code: he never typed a valid one here, and the
        // request is still pending for someone else.
        #expect(try world.service.request(id: request.id)?.state == .requested)
        #expect(try world.decide(request.id, by: "carol").get().state == .active)
    }

    @Test("no approver role, wrong code, replayed code, missing code: refused and audited; the request stays pending")
    func badApprovals() throws {
        let world = try World()
        let request = try world.file()
        #expect(world.decide(request.id, by: "dave") == .failure(.notAnApprover(target: "web01", login: "root")))
        #expect(world.decide(request.id, by: "bob", code: "000000") == .failure(.wrongCode) || world.code("bob") == "000000")
        #expect(world.decide(request.id, by: "bob", code: "") == .failure(.missingCode))
        let code = world.code("carol")
        // carol approves a different request with this code; the same code cannot approve again.
        let other = try world.file("second")
        #expect(try world.decide(other.id, by: "carol", code: code).get().state == .active)
        #expect(world.decide(request.id, by: "carol", code: code) == .failure(.replayedCode))
        #expect(try world.service.request(id: request.id)?.state == .requested)
        #expect(try world.handle.auditLog.records(type: "elevation.refused").count >= 3)
    }

    @Test("two approvals required: the first is recorded, the second (another person) starts the grant")
    func twoApprovals() throws {
        let world = try World(approvalsRequired: 2)
        let request = try world.file()
        #expect(try world.decide(request.id, by: "bob").get().state == .requested)
        world.clock.advance(by: 30)
        #expect(world.decide(request.id, by: "bob") == .failure(.alreadyDecided(id: request.id)))
        #expect(try world.decide(request.id, by: "carol").get().state == .active)
        #expect(try world.types().contains("elevation.approval"))
    }

    @Test("deny, expiry, withdraw: each final, each audited; decisions on them refused")
    func endings() throws {
        let world = try World()
        let denied = try world.file()
        #expect(try world.decide(denied.id, by: "bob", approve: false).get().state == .denied)
        let expiring = try world.file()
        let withdrawn = try world.file()
        #expect(try world.service.withdraw(id: withdrawn.id, by: UserName("alice")!, caller: world.caller("alice")).get().state == .withdrawn)
        world.clock.advance(by: 15 * 60 + 1)
        #expect(world.decide(expiring.id, by: "carol") == .failure(.notPending(id: expiring.id, state: .expired)))
        world.clock.advance(by: 30)
        #expect(world.decide(withdrawn.id, by: "carol") == .failure(.notPending(id: withdrawn.id, state: .withdrawn)))
        let types = try world.types()
        for type in ["elevation.denied", "elevation.expired", "elevation.withdrawn"] { #expect(types.contains(type), "\(type)") }
    }

    @Test("a grant ends early when dropped, revoked, or (if configured) with the requester's last session")
    func earlyEnds() throws {
        let world = try World(endWithSession: true)
        let dropped = try world.file()
        _ = try world.decide(dropped.id, by: "bob").get()
        #expect(world.service.drop(id: dropped.id, by: UserName("bob")!, caller: world.caller("bob")) == .failure(.notYours(id: dropped.id)))
        #expect(try world.service.drop(id: dropped.id, by: UserName("alice")!, caller: world.caller("alice")).get().state == .ended)
        world.clock.advance(by: 30)
        let revoked = try world.file()
        _ = try world.decide(revoked.id, by: "carol").get()
        #expect(try world.service.revoke(id: revoked.id, reason: "incident", caller: world.caller("admin", via: "admin-cli")).get().state == .revoked)
        #expect(try world.service.activeGrant(user: "alice", target: "web01", login: nil) == nil)
        world.clock.advance(by: 30)
        let withSession = try world.file()
        _ = try world.decide(withSession.id, by: "bob").get()
        world.service.sessionEnded(user: "alice", target: "web01", otherLiveSessions: { true })
        #expect(try world.service.activeGrant(user: "alice", target: "web01", login: nil) != nil)
        world.service.sessionEnded(user: "alice", target: "web01", otherLiveSessions: { false })
        #expect(try world.service.activeGrant(user: "alice", target: "web01", login: nil) == nil)
        // With no grant left to end, the live sessions are not even looked up.
        world.service.sessionEnded(user: "alice", target: "web01", otherLiveSessions: {
            Issue.record("live sessions looked up with no grant to end")
            return false
        })
    }

    @Test("requests need a reason, an elevatable login and a known target; --for is capped at max_elevation")
    func requestRules() throws {
        let world = try World()
        let service = world.service
        let alice = try world.user("alice")
        #expect(throws: ElevationRefusal.missingReason) {
            try service.request(by: alice, target: "web01", login: nil, reason: "  ", duration: nil, origin: "ssh", caller: world.caller("alice")).get()
        }
        #expect(throws: ElevationRefusal.unknownTarget("db9")) {
            try service.request(by: alice, target: "db9", login: nil, reason: "x", duration: nil, origin: "ssh", caller: world.caller("alice")).get()
        }
        #expect(throws: ElevationRefusal.loginNotElevatable(login: "postgres", target: "web01")) {
            try service.request(by: alice, target: "web01", login: "postgres", reason: "x", duration: nil, origin: "ssh", caller: world.caller("alice")).get()
        }
        let (capped, note) = try service.request(
            by: alice, target: "web01", login: "root", reason: "x", duration: 4 * 3_600, origin: "ssh", caller: world.caller("alice")
        ).get()
        #expect(capped.duration == 30 * 60)
        #expect(note?.contains("capped at 30m") == true)
    }

    @Test("approval links: single use, bound to the request, forged tokens rejected")
    func links() throws {
        let world = try World()
        let request = try world.file()
        let links = world.service.links
        let token = links.token(for: request.id)
        #expect(links.url(for: request.id) == "https://bastion.example/approve/\(token)")
        #expect(links.requestID(fromToken: token) == request.id)
        #expect(links.requestID(fromToken: token.dropLast() + (token.hasSuffix("A") ? "B" : "A")) == nil)
        #expect(links.requestID(fromToken: "\(request.id).") == nil)
        let other = ApprovalLink(key: Array(repeating: 8, count: 32), publicURL: "x")
        #expect(other.requestID(fromToken: token) == nil)
        _ = try world.service.decide(
            id: request.id, approve: false, approver: UserName("bob")!, proof: .totp(world.code("bob")), comment: "no", caller: world.caller("bob", via: "web"),
            viaLink: true
        ).get()
        world.clock.advance(by: 30)
        #expect(world.service.decide(
            id: request.id, approve: true, approver: UserName("carol")!, proof: .totp(world.code("carol")), comment: "", caller: world.caller("carol", via: "web"),
            viaLink: true
        ) == .failure(.linkUsed))
    }

    @Test("two approvers racing: one decision wins, the other is refused (compare-and-swap on the record)")
    func race() async throws {
        let world = try World()
        let request = try world.file()
        let service = world.service
        let codes = (world.code("bob"), world.code("carol"))
        async let first = Task.detached {
            service.decide(id: request.id, approve: true, approver: UserName("bob")!, proof: .totp(codes.0), comment: "", caller: .init(actor: .init(user: "bob"), via: "ssh"))
        }.value
        async let second = Task.detached {
            service.decide(id: request.id, approve: false, approver: UserName("carol")!, proof: .totp(codes.1), comment: "", caller: .init(actor: .init(user: "carol"), via: "web"))
        }.value
        let results = await [first, second]
        #expect(results.filter { (try? $0.get()) != nil }.count == 1, "\(results)")
        let final = try #require(try service.request(id: request.id))
        #expect(final.decisions.count == 1)
        #expect(try world.handle.auditLog.records(type: nil).filter { ["elevation.approved", "elevation.denied"].contains($0.type) }.count == 1)
    }
}
