import BastionCore
import BastionTesting
import Foundation
import Testing

/// The one enforcement decision, case by case, on a manual clock.
@Suite("Enforcement point")
struct EnforcementPointTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    static let policy: Policy = {
        var ops = Role(name: "ops", targets: ["web*"], logins: ["deploy"], maxCertificateTTL: 4 * 3_600)
        ops.directTCPIPDestinations = ["10.0.0.9:5432"]
        ops.maxConnections = 2
        ops.elevatedLogins = ["root"]
        let viewer = Role(name: "viewer", maxCertificateTTL: 3_600)
        var batch = Role(name: "batch", maxCertificateTTL: 3_600)
        batch.maxSessions = 50
        return Policy(
            roles: ["ops": ops, "viewer": viewer, "batch": batch],
            targets: ["web01": TargetDefinition(name: "web01", host: "10.0.0.5", hostKey: "ssh-ed25519 AAAA")]
        )
    }()

    static let point = EnforcementPoint(policy: policy, idleTimeout: 600)
    static let s1 = SessionID(rawValue: "s1")
    static let database = EnforcementFacts.Forward(host: "10.0.0.9", port: 5432)

    static func alice(roles: [String] = ["ops"], locked: Bool = false) -> User {
        User(name: UserName("alice")!, roles: roles, isLocked: locked, createdAt: start)
    }

    static func session(
        id: SessionID = s1, login: String = "deploy", grant: EnforcementFacts.Grant? = nil, maxDuration: TimeInterval? = nil,
        startedAt: Date = start, endRequest: SessionEndRequest? = nil
    ) -> EnforcementFacts.Session {
        EnforcementFacts.Session(
            id: id, login: login, target: "web01", startedAt: startedAt, maxDuration: maxDuration, lastActivity: startedAt, grant: grant,
            endRequest: endRequest
        )
    }

    /// No session channel open: only the forward.
    static func forwardsOnly(_ facts: inout EnforcementFacts) {
        facts.sessions = []
        facts.sessionChannels = 0
    }

    /// A connection that is fine at `start`: certificate valid for an hour, a session and a forward.
    static func healthy() -> EnforcementFacts {
        EnforcementFacts(
            account: .current(alice()), certificateValidBefore: start.addingTimeInterval(3_600), sessions: [session()], forwards: [database]
        )
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var after: TimeInterval
        var change: @Sendable (inout EnforcementFacts) -> Void
        var expected: EnforcementPoint.Decision
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "nothing changed", after: 1, change: { _ in }, expected: .proceed),
        Case(name: "shutdown", after: 1, change: { $0.shuttingDown = true }, expected: .end(.shutdown)),
        Case(name: "certificate expired", after: 3_600, change: { _ in }, expected: .end(.certificateExpired)),
        Case(name: "locked", after: 1, change: { $0.account = .current(alice(locked: true)) }, expected: .end(.accountLocked)),
        Case(name: "removed", after: 1, change: { $0.account = .removed }, expected: .end(.accountRemoved)),
        // Roles decide what runs (sessions, forwards), not whether the account may stay: a
        // user with no role may still ask `whoami` and be told why `cert` is refused.
        Case(
            name: "every role gone", after: 1, change: { $0.account = .current(alice(roles: ["gone"])) },
            expected: .close(sessions: [s1: .accessWithdrawn(login: "deploy", target: "web01")], forwards: ["10.0.0.9:5432"])
        ),
        Case(name: "killed", after: 1, change: { $0.endRequest = .kill }, expected: .end(.killed)),
        Case(
            name: "one session killed", after: 1,
            change: { $0.sessions = [session(endRequest: .kill), session(id: SessionID(rawValue: "s2"))] },
            expected: .close(sessions: [s1: .killed], forwards: [])
        ),
        Case(name: "ended by another node", after: 1, change: { $0.endRequest = .endedElsewhere }, expected: .end(.endedElsewhere)),
        Case(
            name: "maximum length", after: 120, change: { $0.sessions = [session(maxDuration: 60)] },
            expected: .close(sessions: [s1: .maximumLength(60)], forwards: [])
        ),
        Case(
            name: "maximum length of one session of two", after: 120,
            change: { $0.sessions = [session(maxDuration: 60), session(id: SessionID(rawValue: "s2"), maxDuration: 60, startedAt: start.addingTimeInterval(100))] },
            expected: .close(sessions: [s1: .maximumLength(60)], forwards: [])
        ),
        Case(
            name: "session idle", after: 600, change: { $0.certificateValidBefore = nil },
            expected: .close(sessions: [s1: .idle(600)], forwards: [])
        ),
        Case(
            name: "session role withdrawn", after: 1, change: { $0.account = .current(alice(roles: ["viewer"])) },
            expected: .close(sessions: [s1: .accessWithdrawn(login: "deploy", target: "web01")], forwards: ["10.0.0.9:5432"])
        ),
        Case(
            name: "grant ended", after: 1, change: { $0.sessions = [session(login: "root", grant: .ended(id: "g1"))] },
            expected: .close(sessions: [s1: .grantEnded(id: "g1")], forwards: [])
        ),
        Case(name: "grant active", after: 1, change: { $0.sessions = [session(login: "root", grant: .active)] }, expected: .proceed),
        Case(name: "grant unreadable", after: 1, change: { $0.sessions = [session(login: "root", grant: .unreadable)] }, expected: .proceed),
        Case(
            name: "elevated login without a grant", after: 1, change: { $0.sessions = [session(login: "root")] },
            expected: .close(sessions: [s1: .accessWithdrawn(login: "root", target: "web01")], forwards: [])
        ),
        Case(name: "store unreadable ends nothing", after: 1, change: { $0.account = .unreadable }, expected: .proceed),
        Case(
            name: "forward destination withdrawn", after: 1,
            change: {
                forwardsOnly(&$0)
                $0.forwards.append(.init(host: "10.0.0.8", port: 22))
            },
            expected: .close(sessions: [:], forwards: ["10.0.0.8:22"])
        ),
        Case(
            name: "forward-only connection idle", after: 600,
            change: {
                forwardsOnly(&$0)
                $0.lastActivity = start
            },
            expected: .end(.idle(600))
        ),
        Case(
            name: "a session channel left unused does not keep a connection from idling", after: 600,
            change: {
                $0.sessions = []
                $0.lastActivity = start
            },
            expected: .end(.idle(600))
        ),
        Case(
            name: "forward-only connection busy", after: 600,
            change: {
                forwardsOnly(&$0)
                $0.lastActivity = start.addingTimeInterval(599)
            },
            expected: .proceed
        ),
        Case(name: "within max_connections", after: 1, change: { $0.connectionRank = 2 }, expected: .proceed),
        Case(name: "past max_connections", after: 1, change: { $0.connectionRank = 3 }, expected: .end(.tooManyConnections(limit: 2))),
        Case(
            name: "no limit when one role has none", after: 1,
            change: {
                $0.account = .current(alice(roles: ["ops", "viewer"]))
                $0.connectionRank = 30
            },
            expected: .proceed
        ),
        Case(
            name: "lock ends a forward-only connection", after: 1,
            change: {
                forwardsOnly(&$0)
                $0.account = .current(alice(locked: true))
            },
            expected: .end(.accountLocked)
        ),
    ]

    @Test("each reason", arguments: cases)
    func decides(_ example: Case) {
        let clock = ManualClock(Self.start)
        clock.advance(by: example.after)
        var facts = Self.healthy()
        example.change(&facts)
        #expect(Self.point.evaluate(facts, now: clock.now()) == example.expected)
    }

    @Test("a new channel is refused for every reason that ends a connection")
    func channelsRefused() {
        let now = Self.start.addingTimeInterval(1)
        var locked = Self.healthy()
        locked.account = .current(Self.alice(locked: true))
        #expect(Self.point.admit(.session, facts: locked, now: now) == .refuse(.accountLocked))
        #expect(Self.point.admit(.directTCPIP(Self.database), facts: locked, now: now) == .refuse(.accountLocked))
        #expect(Self.point.admit(.session, facts: Self.healthy(), now: Self.start.addingTimeInterval(3_600)) == .refuse(.certificateExpired))
        var killed = Self.healthy()
        killed.endRequest = .kill
        #expect(Self.point.admit(.directTCPIP(Self.database), facts: killed, now: now) == .refuse(.killed))
    }

    @Test("a forward is admitted by the roles as they are now, and refused when the store cannot say")
    func forwardAdmission() {
        let now = Self.start.addingTimeInterval(1)
        #expect(Self.point.admit(.directTCPIP(Self.database), facts: Self.healthy(), now: now) == .admit)
        let other = EnforcementFacts.Forward(host: "10.0.0.9", port: 22)
        #expect(Self.point.admit(.directTCPIP(other), facts: Self.healthy(), now: now) == .refuse(.forwardNotAllowed(destination: "10.0.0.9:22")))
        var demoted = Self.healthy()
        demoted.account = .current(Self.alice(roles: ["viewer"]))
        #expect(Self.point.admit(.directTCPIP(Self.database), facts: demoted, now: now) == .refuse(.forwardNotAllowed(destination: "10.0.0.9:5432")))
        var unreadable = Self.healthy()
        unreadable.account = .unreadable
        #expect(Self.point.admit(.directTCPIP(Self.database), facts: unreadable, now: now) == .refuse(.forwardNotAllowed(destination: "10.0.0.9:5432")))
        #expect(Self.point.admit(.session, facts: unreadable, now: now) == .admit)
    }

    @Test("max_sessions counts the connection's open session channels; the largest of the roles applies")
    func sessionLimit() {
        let now = Self.start.addingTimeInterval(1)
        var facts = Self.healthy()
        facts.sessionChannels = 9
        #expect(Self.point.admit(.session, facts: facts, now: now) == .admit)
        facts.sessionChannels = 10
        #expect(Self.point.admit(.session, facts: facts, now: now) == .refuse(.tooManySessions(limit: Role.defaultMaxSessions)))
        #expect(Self.point.admit(.directTCPIP(Self.database), facts: facts, now: now) == .admit)
        facts.account = .current(Self.alice(roles: ["ops", "batch"]))
        #expect(Self.point.admit(.session, facts: facts, now: now) == .admit)
        facts.sessionChannels = 50
        #expect(Self.point.admit(.session, facts: facts, now: now) == .refuse(.tooManySessions(limit: 50)))
        #expect(!EnforcementReason.tooManySessions(limit: 50).endsConnection)
        #expect(EnforcementReason.tooManyConnections(limit: 2).endsConnection)
    }

    @Test("IPv6 destinations are bracketed as roles list them")
    func ipv6Destination() {
        #expect(EnforcementFacts.Forward(host: "::1", port: 80).destination == "[::1]:80")
    }

    @Test("every reason has a user line and an audit reason")
    func texts() {
        let reasons: [EnforcementReason] = [
            .shutdown, .certificateExpired, .accountLocked, .accountRemoved, .killed, .endedElsewhere, .maximumLength(60), .idle(600),
            .grantEnded(id: "g1"), .accessWithdrawn(login: "root", target: "web01"), .forwardNotAllowed(destination: "h:1"),
            .tooManyConnections(limit: 2), .tooManySessions(limit: 10),
        ]
        #expect(Set(reasons.map(\.auditReason)).count == reasons.count)
        #expect(reasons.allSatisfy { !$0.userMessage.isEmpty && !$0.userMessage.contains("\n") })
        #expect(EnforcementReason.idle(600).userMessage == "session idle for 10m; closed")
    }
}
