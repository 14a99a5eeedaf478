import BastionCore
import BastionCrypto
import BastionTesting
import Foundation
import Testing

/// The sudo check's decisions, against in-memory stores: who is asking, when it is allowed,
/// how a request is filed and polled, and that a wrong token learns nothing.
@Suite("SudoCheck")
struct SudoCheckTests {
    struct Fixture {
        let clock = ManualClock()
        let users = InMemoryUserStore()
        let sessions = InMemorySessionStore()
        let store = InMemoryElevationStore()
        let audit = RecordingAuditEmitter()
        let sealer = SecretSealer(masterKey: .random())
        let policy: Policy

        init() throws {
            var ops = Role(name: "ops", targets: ["web*"], logins: ["deploy"], maxCertificateTTL: 3_600)
            ops.elevatedLogins = ["root"]
            var approver = Role(name: "approver", maxCertificateTTL: 3_600)
            approver.approveTargets = ["*"]
            approver.approveLogins = ["root"]
            let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJG0CHKyK+L6cqs4WBIdUgegtNkBJFdy+kOJwvZqiB/Y"
            policy = Policy(
                roles: ["ops": ops, "approver": approver],
                targets: [
                    "web01": TargetDefinition(name: "web01", host: "10.0.0.5", hostKey: key),
                    "web02": TargetDefinition(name: "web02", host: "10.0.0.6", hostKey: key, tokenEpoch: 2),
                ]
            )
            for (name, roles) in [("alice", ["ops"]), ("carol", ["ops"]), ("bob", ["approver"])] {
                try users.createUser(
                    User(name: try #require(UserName(name)), roles: roles, createdAt: clock.now()),
                    key: SSHPublicKey(ed25519: try Ed25519PrivateKey().publicKey), sealedTOTPSecret: []
                )
            }
        }

        var tokens: TargetToken { TargetToken(key: sealer.derivedKey(purpose: TargetToken.purpose)) }

        var elevation: ElevationService {
            ElevationService(
                store: store, users: users, policy: policy, settings: .defaults,
                stepUp: StepUpVerifier(users: users, sealer: sealer, settings: AuthenticationSettings()), audit: audit, clock: clock,
                links: ApprovalLink(key: sealer.derivedKey(purpose: "approval-links"), publicURL: "https://bastion.example.com")
            )
        }

        var check: SudoCheck {
            SudoCheck(elevation: elevation, users: users, sessions: sessions, policy: policy, tokens: tokens, audit: audit, clock: clock)
        }

        func token(_ target: String) throws -> String { tokens.token(for: try #require(policy.targets[target])) }

        func ask(_ login: String = "alice", command: String = "sudo systemctl restart nginx", id: String? = nil, target: String = "web01")
            throws -> SudoCheck.Answer
        {
            let outcome = check.check(target: target, bearer: try token(target), query: .init(login: login, command: command, requestID: id))
            guard case .answered(let answer) = outcome else { throw CheckFailed() }
            return answer
        }

        func decide(_ id: ElevationID, approve: Bool) throws {
            _ = try elevation.decide(
                id: id, approve: approve, approver: try #require(UserName("bob")), proof: .slackUser("U1"), comment: "",
                caller: .init(actor: .init(user: "bob"), via: "slack")
            ).get()
        }

        func liveSession(_ user: String, login: String, target: String = "web01") throws {
            try sessions.register(SessionRecord(
                id: SessionID(rawValue: UUID().uuidString), user: user, login: login, target: target, sourceAddress: "192.0.2.1", kind: "shell",
                startedAt: clock.now(), recording: nil
            ))
        }

        func sudoRecords() -> [AuditEvent] { audit.recorded.filter { $0.type == .elevationSudo } }
    }

    struct CheckFailed: Error {}

    @Test func wrongMissingOrForeignTokensAreUnauthorizedAndAudited() throws {
        let fixture = try Fixture()
        let query = SudoCheck.Query(login: "alice", command: "sudo true")
        #expect(fixture.check.check(target: "web01", bearer: nil, query: query) == .unauthorized)
        #expect(fixture.check.check(target: "web01", bearer: "nope", query: query) == .unauthorized)
        #expect(fixture.check.check(target: "web01", bearer: try fixture.token("web02"), query: query) == .unauthorized)
        #expect(fixture.check.check(target: "db99", bearer: try fixture.token("web01"), query: query) == .unauthorized)
        let refusals = fixture.audit.recorded.filter { $0.type == .elevationRefused }
        #expect(refusals.count == 4)
        #expect(refusals.allSatisfy { $0.reason == "wrong target token" && $0.outcome == .failure })
        #expect(fixture.sudoRecords().isEmpty)
        #expect(try fixture.store.requests(in: ElevationRequest.State.allCases).isEmpty)
    }

    @Test func tokenDependsOnNameAndEpoch() throws {
        let fixture = try Fixture()
        let web01 = try #require(fixture.policy.targets["web01"])
        var rotated = web01
        rotated.tokenEpoch = 2
        #expect(fixture.tokens.token(for: web01) != fixture.tokens.token(for: rotated))
        #expect(fixture.tokens.token(for: web01) == fixture.tokens.token(for: web01))
        #expect(!fixture.tokens.verify(fixture.tokens.token(for: web01), for: rotated, name: "web01"))
        #expect(fixture.tokens.token(for: web01).allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
    }

    @Test func withoutGrantARequestIsFiledThenApproved() throws {
        let fixture = try Fixture()
        let first = try fixture.ask()
        #expect(first.decision == .pending)
        let id = try #require(first.requestID)
        #expect(first.approveURL?.hasPrefix("https://bastion.example.com/approve/\(id).") == true)
        let request = try #require(try fixture.store.request(id: id))
        #expect(request.origin == "sudo" && request.login == "root" && request.reason == "sudo: sudo systemctl restart nginx")
        #expect(try fixture.ask(id: id.rawValue).decision == .pending)
        // Another sudo meanwhile waits on the same request instead of filing a second one.
        #expect(try fixture.ask(command: "sudo ls").requestID == id)

        try fixture.decide(id, approve: true)
        let allowed = try fixture.ask(id: id.rawValue)
        #expect(allowed.decision == .allow && allowed.requestID == id)
        // Later sudo runs are allowed at once while the grant lasts, then refused again.
        #expect(try fixture.ask().decision == .allow)
        fixture.clock.advance(by: ElevationSettings.defaultMaxElevation + 1)
        #expect(try fixture.ask(id: id.rawValue).decision == .deny)

        let records = fixture.sudoRecords()
        #expect(records.map { $0.details["decision"] } == ["pending", "pending", "pending", "allow", "allow", "deny"])
        #expect(records[0].details["command"] == "sudo systemctl restart nginx" && records[0].details["login"] == "alice")
        #expect(records[0].details["request_id"] == id.rawValue && records[0].actor?.user == "alice" && records[0].target == "web01")
        #expect(records.last?.outcome == .failure)
    }

    @Test func aDeniedRequestIsADeny() throws {
        let fixture = try Fixture()
        let id = try #require(try fixture.ask().requestID)
        try fixture.decide(id, approve: false)
        let answer = try fixture.ask(id: id.rawValue)
        #expect(answer.decision == .deny)
        #expect(answer.message.contains("denied by bob"))
    }

    @Test func aRequestOfSomeoneElseOrAnotherTargetIsUnknown() throws {
        let fixture = try Fixture()
        let id = try #require(try fixture.ask("carol").requestID)
        #expect(try fixture.ask("alice", id: id.rawValue).decision == .deny)
        #expect(try fixture.ask("alice", id: "not an id").decision == .deny)
        #expect(try fixture.ask("carol", id: id.rawValue, target: "web02").decision == .deny)
    }

    @Test func aSharedLoginMapsToTheOneBastionUserLoggedInAsIt() throws {
        let fixture = try Fixture()
        #expect(try fixture.ask("deploy").decision == .deny)
        try fixture.liveSession("alice", login: "deploy")
        try fixture.liveSession("carol", login: "deploy", target: "web02")
        let answer = try fixture.ask("deploy")
        #expect(answer.decision == .pending)
        #expect(try fixture.store.request(id: try #require(answer.requestID))?.requester == "alice")

        try fixture.liveSession("carol", login: "deploy")
        let ambiguous = try fixture.ask("deploy")
        #expect(ambiguous.decision == .deny && ambiguous.message.contains("ambiguous"))
    }

    @Test func refusalsOfTheServiceAreDenies() throws {
        let fixture = try Fixture()
        // bob's roles elevate nowhere.
        let answer = try fixture.ask("bob")
        #expect(answer.decision == .deny && answer.message.contains("none of your roles"))
        _ = try fixture.users.setLocked(true, for: try #require(UserName("alice")))
        #expect(try fixture.ask("alice").decision == .deny)
    }

    @Test func anAllowTheAuditLogCannotHoldIsADeny() throws {
        let fixture = try Fixture()
        let id = try #require(try fixture.ask().requestID)
        try fixture.decide(id, approve: true)
        fixture.audit.setFailing(true)
        #expect(try fixture.ask(id: id.rawValue).decision == .deny)
    }

    @Test func aMalformedBodyIsADenyAfterTheToken() throws {
        let fixture = try Fixture()
        let outcome = fixture.check.check(target: "web01", bearer: try fixture.token("web01"), query: nil)
        guard case .answered(let answer) = outcome else { throw CheckFailed() }
        #expect(answer.decision == .deny)
        #expect(fixture.check.check(target: "web01", bearer: "x", query: nil) == .unauthorized)
    }
}
