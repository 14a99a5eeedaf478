public import Foundation

/// A request for privilege ("root on web01 for 30 minutes, because …") and, once approved,
/// the grant it became: one record walks the whole state machine.
///
/// ```
/// requested ─┬─> approved ──> active ─┬─> ended     (time up, dropped, session ended)
///            ├─> denied               └─> revoked   (`bastiond elevation revoke`)
///            ├─> expired    (request_ttl passed undecided)
///            └─> withdrawn  (the requester changed their mind)
/// ```
/// `approved` lasts no time at all: the grant starts when the last required approval
/// arrives, so the record is `active` (or later) whenever it is read; the audit log keeps
/// both transitions. The transitions live here, as pure functions, so that every entry point
/// (SSH, web page, chat buttons, the sudo check) goes through the same rules.
public struct ElevationRequest: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        case requested, approved, denied, expired, withdrawn, active, ended, revoked

        /// Still waiting for a decision.
        public var isPending: Bool { self == .requested }
        /// Nothing can happen to it any more.
        public var isFinal: Bool { [.denied, .expired, .withdrawn, .ended, .revoked].contains(self) }
    }

    /// One approver's yes or no.
    public struct Decision: Sendable, Equatable, Codable {
        public var approver: String
        public var approved: Bool
        public var comment: String
        public var at: Date
        /// `ssh`, `web` or `slack`: how the approver reached Bastion.
        public var via: String

        public init(approver: String, approved: Bool, comment: String, at: Date, via: String) {
            self.approver = approver
            self.approved = approved
            self.comment = comment
            self.at = at
            self.via = via
        }
    }

    // What was asked: fixed when the request is filed.
    public let id: ElevationID
    public let requester: String
    public let target: String
    public let login: String
    public let reason: String
    /// How long the grant lasts once approved (already capped by the requester's roles).
    public let duration: TimeInterval
    /// `ssh` (the `elevate` command) or `sudo` (the target's PAM check).
    public let origin: String
    public let createdAt: Date
    /// The request dies undecided at this time (`elevation.request_ttl`).
    public let expiresAt: Date
    public let approvalsRequired: Int

    // Where it is: changed only by the transitions below (and the store's version count).
    public private(set) var state: State
    public private(set) var decisions: [Decision]
    public private(set) var grantStartedAt: Date?
    public private(set) var grantEndsAt: Date?
    /// When it reached a final state, and why (`denied`, `time up`, `dropped`, …).
    public private(set) var closedAt: Date?
    public private(set) var closeReason: String?
    /// The approval link was used for a decision (links are single-use).
    public var linkUsed: Bool
    /// Optimistic-concurrency counter: a store update succeeds only if nobody changed the
    /// record since it was read (two approvers deciding at once, the sweeper expiring it).
    public var version: Int

    public init(
        id: ElevationID, requester: String, target: String, login: String, reason: String, duration: TimeInterval, origin: String,
        createdAt: Date, expiresAt: Date, approvalsRequired: Int
    ) {
        self.id = id
        self.requester = requester
        self.target = target
        self.login = login
        self.reason = reason
        self.duration = duration
        self.origin = origin
        self.state = .requested
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.approvalsRequired = approvalsRequired
        self.decisions = []
        self.linkUsed = false
        self.version = 0
    }

    /// Puts back the progress a store saved: the one way besides the transitions to set it, so
    /// reading a record never runs (or re-audits) a transition.
    public mutating func restore(
        state: State, decisions: [Decision], grantStartedAt: Date?, grantEndsAt: Date?, closedAt: Date?, closeReason: String?
    ) {
        self.state = state
        self.decisions = decisions
        self.grantStartedAt = grantStartedAt
        self.grantEndsAt = grantEndsAt
        self.closedAt = closedAt
        self.closeReason = closeReason
    }

    /// The approvers who said yes, in order.
    public var approvers: [String] { decisions.filter(\.approved).map(\.approver) }

    /// Whether the grant is in force at `now`.
    public func isActive(at now: Date) -> Bool {
        state == .active && (grantEndsAt.map { now < $0 } ?? false)
    }

    // MARK: - Transitions

    /// Records `decision`. A deny ends the request; the approval that completes
    /// `approvalsRequired` starts the grant. Returns the states passed through, in order.
    public mutating func decide(_ decision: Decision) throws(ElevationRefusal) -> [State] {
        guard state == .requested else { throw .notPending(id: id, state: state) }
        guard decision.at < expiresAt else { throw .notPending(id: id, state: .expired) }
        // Approver ≠ requester, always: no role, flag or channel bypasses this.
        guard decision.approver != requester else { throw .selfApproval }
        guard !decisions.contains(where: { $0.approver == decision.approver }) else { throw .alreadyDecided(id: id) }
        decisions.append(decision)
        guard decision.approved else {
            close(.denied, at: decision.at, reason: "denied by \(decision.approver)")
            return [.denied]
        }
        guard approvers.count >= approvalsRequired else { return [] }
        state = .active
        grantStartedAt = decision.at
        grantEndsAt = decision.at.addingTimeInterval(duration)
        return [.approved, .active]
    }

    /// The requester takes back a pending request.
    public mutating func withdraw(by user: String, at now: Date) throws(ElevationRefusal) {
        guard user == requester else { throw .notYours(id: id) }
        guard state == .requested else { throw .notPending(id: id, state: state) }
        close(.withdrawn, at: now, reason: "withdrawn by \(user)")
    }

    /// The requester ends their own grant early (`elevate --drop`).
    public mutating func drop(by user: String, at now: Date) throws(ElevationRefusal) {
        guard user == requester else { throw .notYours(id: id) }
        guard isActive(at: now) else { throw .notActive(id: id) }
        close(.ended, at: now, reason: "dropped by \(user)")
    }

    /// An administrator ends a grant (or kills a pending request) early.
    public mutating func revoke(at now: Date, reason: String) throws(ElevationRefusal) {
        guard state == .active || state == .requested else { throw .notActive(id: id) }
        close(.revoked, at: now, reason: reason)
    }

    /// The grant ends because the requester's session ended (`end_with_session`).
    public mutating func endWithSession(at now: Date) {
        guard isActive(at: now) else { return }
        close(.ended, at: now, reason: "the requester's session ended")
    }

    /// Moves a request past its TTL to `expired` and a grant past its end to `ended`;
    /// returns the new state when it changed.
    public mutating func expireIfDue(at now: Date) -> State? {
        if state == .requested, now >= expiresAt {
            close(.expired, at: expiresAt, reason: "not decided within the request time")
            return .expired
        }
        if state == .active, let end = grantEndsAt, now >= end {
            close(.ended, at: end, reason: "time up")
            return .ended
        }
        return nil
    }

    private mutating func close(_ final: State, at now: Date, reason: String) {
        state = final
        closedAt = now
        closeReason = reason
        if final == .ended || final == .revoked, let end = grantEndsAt, now < end { grantEndsAt = now }
    }
}
