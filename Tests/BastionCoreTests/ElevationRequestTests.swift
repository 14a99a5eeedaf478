import BastionCore
import Foundation
import Testing

/// The elevation state machine on its own, transition by transition: every entry point (SSH,
/// web page, Slack, the sudo check) goes through these rules, so they are tested here without
/// a store. A request for root on web01, 30 minutes, two approvals, valid for 10 minutes.
@Suite("Elevation request transitions")
struct ElevationRequestTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    static func request(approvals: Int = 2) -> ElevationRequest {
        ElevationRequest(
            id: "e1", requester: "alice", target: "web01", login: "root", reason: "disk full", duration: 1_800, origin: "ssh",
            createdAt: start, expiresAt: start.addingTimeInterval(600), approvalsRequired: approvals
        )
    }

    static func yes(_ approver: String, after seconds: TimeInterval = 10) -> ElevationRequest.Decision {
        .init(approver: approver, approved: true, comment: "", at: start.addingTimeInterval(seconds), via: "ssh")
    }

    static func no(_ approver: String) -> ElevationRequest.Decision {
        .init(approver: approver, approved: false, comment: "not now", at: start.addingTimeInterval(10), via: "web")
    }

    typealias Step = @Sendable (inout ElevationRequest) throws -> Void

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var approvals = 2
        var steps: [Step]
        var state: ElevationRequest.State
        var refusal: ElevationRefusal?
        var closeReason: String?
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "one approval of two: still requested", steps: [{ _ = try $0.decide(yes("bob")) }], state: .requested),
        Case(
            name: "the second approval starts the grant", steps: [{ _ = try $0.decide(yes("bob")) }, { _ = try $0.decide(yes("carol", after: 20)) }],
            state: .active
        ),
        Case(name: "a deny ends the request", steps: [{ _ = try $0.decide(no("bob")) }], state: .denied, closeReason: "denied by bob"),
        Case(name: "the requester may never approve", steps: [{ _ = try $0.decide(yes("alice")) }], state: .requested, refusal: .selfApproval),
        Case(
            name: "one approver counts once", steps: [{ _ = try $0.decide(yes("bob")) }, { _ = try $0.decide(yes("bob", after: 20)) }],
            state: .requested, refusal: .alreadyDecided(id: "e1")
        ),
        Case(
            name: "a decision after the request time", steps: [{ _ = try $0.decide(yes("bob", after: 600)) }], state: .requested,
            refusal: .notPending(id: "e1", state: .expired)
        ),
        Case(
            name: "a decision on a decided request", approvals: 1, steps: [{ _ = try $0.decide(yes("bob")) }, { _ = try $0.decide(yes("carol")) }],
            state: .active, refusal: .notPending(id: "e1", state: .active)
        ),
        Case(
            name: "the requester withdraws", steps: [{ try $0.withdraw(by: "alice", at: start.addingTimeInterval(5)) }], state: .withdrawn,
            closeReason: "withdrawn by alice"
        ),
        Case(
            name: "someone else may not withdraw", steps: [{ try $0.withdraw(by: "bob", at: start.addingTimeInterval(5)) }], state: .requested,
            refusal: .notYours(id: "e1")
        ),
        Case(
            name: "the requester drops the grant", approvals: 1,
            steps: [{ _ = try $0.decide(yes("bob")) }, { try $0.drop(by: "alice", at: start.addingTimeInterval(60)) }], state: .ended,
            closeReason: "dropped by alice"
        ),
        Case(
            name: "nothing to drop before approval", steps: [{ try $0.drop(by: "alice", at: start.addingTimeInterval(60)) }], state: .requested,
            refusal: .notActive(id: "e1")
        ),
        Case(
            name: "an administrator revokes a grant", approvals: 1,
            steps: [{ _ = try $0.decide(yes("bob")) }, { try $0.revoke(at: start.addingTimeInterval(60), reason: "incident over") }],
            state: .revoked, closeReason: "incident over"
        ),
        Case(
            name: "an administrator kills a pending request", steps: [{ try $0.revoke(at: start.addingTimeInterval(60), reason: "no") }],
            state: .revoked, closeReason: "no"
        ),
        Case(
            name: "nothing to revoke once denied", steps: [{ _ = try $0.decide(no("bob")) }, { try $0.revoke(at: start.addingTimeInterval(60), reason: "x") }],
            state: .denied, refusal: .notActive(id: "e1"), closeReason: "denied by bob"
        ),
        Case(
            name: "undecided past its time: expired", steps: [{ _ = $0.expireIfDue(at: start.addingTimeInterval(601)) }], state: .expired,
            closeReason: "not decided within the request time"
        ),
        Case(
            name: "a grant past its end: ended", approvals: 1,
            steps: [{ _ = try $0.decide(yes("bob")) }, { _ = $0.expireIfDue(at: start.addingTimeInterval(10 + 1_800)) }], state: .ended,
            closeReason: "time up"
        ),
        Case(
            name: "a grant ends with the requester's session", approvals: 1,
            steps: [{ _ = try $0.decide(yes("bob")) }, { $0.endWithSession(at: start.addingTimeInterval(100)) }], state: .ended,
            closeReason: "the requester's session ended"
        ),
    ]

    @Test("each transition, and each refusal", arguments: cases)
    func transitions(_ example: Case) {
        var request = Self.request(approvals: example.approvals)
        var refused: ElevationRefusal?
        for step in example.steps {
            do { try step(&request) } catch { refused = error as? ElevationRefusal }
        }
        #expect(refused == example.refusal)
        #expect(request.state == example.state)
        #expect(request.closeReason == example.closeReason)
        #expect(request.state.isFinal == (request.closedAt != nil))
    }

    @Test("a grant runs from the last approval for its duration, and stops being active at its end or when cut short")
    func grantWindow() throws {
        var request = Self.request(approvals: 2)
        #expect(try request.decide(Self.yes("bob")) == [])
        #expect(try request.decide(Self.yes("carol", after: 100)) == [.approved, .active])
        #expect(request.approvers == ["bob", "carol"])
        #expect(request.grantStartedAt == Self.start.addingTimeInterval(100))
        #expect(request.isActive(at: Self.start.addingTimeInterval(100 + 1_799)))
        #expect(!request.isActive(at: Self.start.addingTimeInterval(100 + 1_800)))
        try request.revoke(at: Self.start.addingTimeInterval(200), reason: "done")
        #expect(request.grantEndsAt == Self.start.addingTimeInterval(200))
        #expect(!request.isActive(at: Self.start.addingTimeInterval(201)))
    }
}
