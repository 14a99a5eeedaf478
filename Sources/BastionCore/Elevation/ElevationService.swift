import BastionCrypto
public import Foundation

/// Every elevation action (request, decide, withdraw, drop, revoke, expire), for every entry
/// point: the SSH commands, the approval page, chat buttons, the target's sudo check and the
/// admin CLI. One place enforces the rules and writes the audit records.
///
/// Synchronous and thread-safe like the other domain services. A transition is saved with a
/// compare-and-swap on the record's version (two approvers at once cannot both win), then
/// audited; if the audit append fails the record is put back (fail closed: no record, no
/// grant). The chat messages follow the audit records (the chat relay reads the chain).
public struct ElevationService: Sendable {
    /// Who is acting, for the audit record.
    public struct Caller: Sendable {
        public var actor: AuditEvent.Actor
        public var connection: AuditEvent.Connection?
        /// `ssh`, `web`, `slack`, `sudo` or `admin-cli`.
        public var via: String

        public init(actor: AuditEvent.Actor, connection: AuditEvent.Connection? = nil, via: String) {
            self.actor = actor
            self.connection = connection
            self.via = via
        }
    }

    /// How an approver proves it is them, now.
    public enum Proof: Sendable {
        /// A fresh TOTP code (SSH and the web page).
        case totp(String)
        /// A verified Slack interactive request from a mapped Slack user: weaker (no second
        /// factor at decision time), off unless configured.
        case slackUser(String)
    }

    private let store: any ElevationStore
    private let users: any UserStore
    private let policySource: any PolicySource
    /// As the file says now (a reload may replace it between two calls).
    private var policy: Policy { policySource.current }
    private let settings: ElevationSettings
    private let stepUp: StepUpVerifier
    private let audit: any AuditEmitter
    private let clock: any WallClock
    public let links: ApprovalLink

    public init(
        store: any ElevationStore, users: any UserStore, policy: any PolicySource, settings: ElevationSettings, stepUp: StepUpVerifier,
        audit: any AuditEmitter, clock: any WallClock, links: ApprovalLink
    ) {
        self.store = store
        self.users = users
        self.policySource = policy
        self.settings = settings
        self.stepUp = stepUp
        self.audit = audit
        self.clock = clock
        self.links = links
    }

    public var elevationSettings: ElevationSettings { settings }

    // MARK: - Requester

    /// Files a request for `login` on `target` (default: the first elevated login the
    /// requester's roles name there). `duration` is capped at the roles' `max_elevation`.
    /// Returns the request and, when the duration was capped, a note for the requester.
    public func request(
        by user: User, target targetName: String, login: String?, reason: String, duration: TimeInterval?, origin: String, caller: Caller
    ) -> Result<(ElevationRequest, note: String?), ElevationRefusal> {
        let now = clock.now()
        let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        func refuse(_ refusal: ElevationRefusal) -> Result<(ElevationRequest, note: String?), ElevationRefusal> {
            refused(refusal, action: "request", id: nil, target: targetName, caller: caller, now: now)
            return .failure(refusal)
        }
        guard !trimmed.isEmpty else { return refuse(.missingReason) }
        guard let target = policy.targets[targetName] else { return refuse(.unknownTarget(targetName)) }
        let chosenLogin = login ?? user.roles.compactMap { policy.roles[$0] }.filter { $0.grants(target: target) }
            .flatMap(\.elevatedLogins).first ?? "root"
        guard let cap = policy.maxElevation(forRoles: user.roles, login: chosenLogin, on: target) else {
            return refuse(.loginNotElevatable(login: chosenLogin, target: targetName))
        }
        var granted = duration ?? cap
        var note: String?
        if granted > cap {
            note = "duration capped at \(DurationText.format(cap)) (your roles' max_elevation)"
            granted = cap
        }
        for _ in 0..<5 {
            let id = ElevationID.random()
            let request = ElevationRequest(
                id: id, requester: user.name.rawValue, target: targetName, login: chosenLogin, reason: String(trimmed.prefix(500)),
                duration: granted, origin: origin, createdAt: now, expiresAt: now.addingTimeInterval(settings.requestTTL),
                approvalsRequired: settings.approvalsRequired
            )
            do {
                try store.insert(request)
            } catch let error as StoreError where error.code == .conflict {
                continue
            } catch {
                return refuse(.unavailable)
            }
            do {
                try audit.append(event(.elevationRequested, request, caller: caller, now: now))
            } catch {
                // A request nobody can see in the record must not exist.
                try? store.remove(id: request.id)
                return .failure(.unavailable)
            }
            return .success((request, note))
        }
        return refuse(.unavailable)
    }

    /// The requester withdraws a pending request (Ctrl-C while `elevate` waits).
    public func withdraw(id: ElevationID, by user: UserName, caller: Caller) -> Result<ElevationRequest, ElevationRefusal> {
        transition(id: id, action: "withdraw", caller: caller) { request, now in
            try request.withdraw(by: user.rawValue, at: now)
            return [.withdrawn]
        }
    }

    /// The requester ends their grant early (`elevate --drop ID`).
    public func drop(id: ElevationID, by user: UserName, caller: Caller) -> Result<ElevationRequest, ElevationRefusal> {
        transition(id: id, action: "drop", caller: caller) { request, now in
            try request.drop(by: user.rawValue, at: now)
            return [.ended]
        }
    }

    // MARK: - Approver

    /// Records `approver`'s decision, after checking who they are (`proof`) and that one of
    /// their roles may decide this target and login.
    public func decide(
        id: ElevationID, approve: Bool, approver name: UserName, proof: Proof, comment: String, caller: Caller, viaLink: Bool = false
    ) -> Result<ElevationRequest, ElevationRefusal> {
        let now = clock.now()
        let action = approve ? "approve" : "deny"
        func refuse(_ refusal: ElevationRefusal) -> Result<ElevationRequest, ElevationRefusal> {
            refused(refusal, action: action, id: id, target: nil, caller: caller, now: now)
            return .failure(refusal)
        }
        let current: ElevationRequest
        let approver: User
        do {
            guard var found = try store.request(id: id) else { return refuse(.noSuchRequest(id)) }
            if found.expireIfDue(at: now) != nil { sweep(id: id) }
            if viaLink, found.linkUsed { return refuse(.linkUsed) }
            guard found.state == .requested else { return refuse(.notPending(id: id, state: found.state)) }
            // Cheap checks before the code is spent: a refused decision must not burn it.
            guard name.rawValue != found.requester else { return refuse(.selfApproval) }
            guard let user = try users.user(named: name) else { return refuse(.unknownApprover) }
            guard let target = policy.targets[found.target], policy.mayApprove(forRoles: user.roles, login: found.login, on: target) else {
                return refuse(.notAnApprover(target: found.target, login: found.login))
            }
            guard !found.decisions.contains(where: { $0.approver == name.rawValue }) else { return refuse(.alreadyDecided(id: id)) }
            switch proof {
            case .totp(let code):
                if let problem = try stepUp.verify(code, for: name, at: now) { return refuse(problem) }
            case .slackUser:
                if user.isLocked { return refuse(.approverLocked) }
            }
            current = found
            approver = user
        } catch {
            return refuse(.unavailable)
        }
        let decision = ElevationRequest.Decision(
            approver: approver.name.rawValue, approved: approve, comment: String(comment.prefix(500)), at: now, via: caller.via
        )
        return transition(id: id, action: action, caller: caller, first: current) { request, _ in
            let states = try request.decide(decision)
            if viaLink { request.linkUsed = true }
            return states.isEmpty ? [.requested] : states
        }
    }

    // MARK: - Administrator

    /// Ends a grant or a pending request at once (`bastiond elevation revoke`).
    public func revoke(id: ElevationID, reason: String, caller: Caller) -> Result<ElevationRequest, ElevationRefusal> {
        transition(id: id, action: "revoke", caller: caller) { request, now in
            try request.revoke(at: now, reason: reason.isEmpty ? "revoked by \(caller.actor.user ?? "an administrator")" : reason)
            return [.revoked]
        }
    }

    // MARK: - Queries

    /// One read when nothing is due (the common case: live privileged sessions and waiting
    /// `elevate` commands ask every second); an expiry that is due is recorded first.
    public func request(id: ElevationID) throws -> ElevationRequest? {
        guard let found = try store.request(id: id) else { return nil }
        var probe = found
        guard probe.expireIfDue(at: clock.now()) != nil else { return found }
        if let swept = sweep(id: id) { return swept }
        return try store.request(id: id)
    }

    /// The grant that lets `user` act as `login` (any login when nil) on `target` now.
    public func activeGrant(user: String, target: String, login: String?) throws -> ElevationRequest? {
        let now = clock.now()
        return try store.requests(in: [.active]).first {
            $0.requester == user && $0.target == target && (login == nil || $0.login == login) && $0.isActive(at: now)
        }
    }

    /// The requests `user` filed, newest first.
    public func requests(of user: UserName, limit: Int = 50) throws -> [ElevationRequest] {
        sweepDue()
        return try store.requests(of: user.rawValue, limit: limit)
    }

    /// Pending requests `user` may decide (never their own).
    public func pending(decidableBy user: User) throws -> [ElevationRequest] {
        sweepDue()
        return try store.requests(in: [.requested]).filter { request in
            guard request.requester != user.name.rawValue, let target = policy.targets[request.target] else { return false }
            return policy.mayApprove(forRoles: user.roles, login: request.login, on: target)
        }
    }

    // MARK: - Time and sessions

    /// Expires undecided requests and ends grants whose time is up, each with its audit
    /// record. Run every second by the daemon; readers also call it, so the records never
    /// lag far behind the clock.
    @discardableResult
    public func sweepDue() -> [ElevationRequest] {
        let now = clock.now()
        guard let open = try? store.requests(in: [.requested, .active]) else { return [] }
        return open.filter { $0.expiresAt <= now || ($0.grantEndsAt.map { $0 <= now } ?? false) }.compactMap { sweep(id: $0.id) }
    }

    /// Ends the active grants of `user` on `target` (`end_with_session`) when their session
    /// there ended and no other one is live. `otherLiveSessions` is asked only when such a
    /// grant exists: most sessions end with none, and the question costs a store read.
    public func sessionEnded(user: String, target: String, otherLiveSessions: () -> Bool) {
        guard settings.endWithSession else { return }
        let now = clock.now()
        guard let active = try? store.requests(in: [.active]) else { return }
        let ending = active.filter { $0.requester == user && $0.target == target && $0.isActive(at: now) }
        guard !ending.isEmpty, !otherLiveSessions() else { return }
        for grant in ending {
            _ = transition(id: grant.id, action: "end", caller: Caller(actor: .init(user: nil, method: "daemon"), via: "daemon")) { request, now in
                request.endWithSession(at: now)
                return [request.state]
            }
        }
    }

    @discardableResult
    private func sweep(id: ElevationID) -> ElevationRequest? {
        let daemon = Caller(actor: .init(user: nil, method: "daemon"), via: "daemon")
        let result = transition(id: id, action: "expire", caller: daemon, auditRefusal: false) { request, now in
            guard let state = request.expireIfDue(at: now) else { throw ElevationRefusal.notPending(id: id, state: request.state) }
            return [state]
        }
        return try? result.get()
    }

    // MARK: - Plumbing

    /// Reads, changes, saves (compare-and-swap, retried on a lost race), then audits every
    /// state passed; puts the record back if the audit log refuses.
    private func transition(
        id: ElevationID, action: String, caller: Caller, first: ElevationRequest? = nil, auditRefusal: Bool = true,
        _ change: (inout ElevationRequest, Date) throws -> [ElevationRequest.State]
    ) -> Result<ElevationRequest, ElevationRefusal> {
        let now = clock.now()
        var seed = first
        for _ in 0..<5 {
            do {
                guard let original = try seed ?? store.request(id: id) else {
                    if auditRefusal { refused(.noSuchRequest(id), action: action, id: id, target: nil, caller: caller, now: now) }
                    return .failure(.noSuchRequest(id))
                }
                seed = nil
                var updated = original
                if action != "expire", updated.expireIfDue(at: now) != nil {
                    // Due but not yet swept: record the expiry first, then judge the action.
                    _ = sweep(id: id)
                    continue
                }
                let states: [ElevationRequest.State]
                do {
                    states = try change(&updated, now)
                } catch {
                    let refusal = error as? ElevationRefusal ?? .unavailable
                    if auditRefusal { refused(refusal, action: action, id: id, target: original.target, caller: caller, now: now) }
                    return .failure(refusal)
                }
                guard try store.update(updated) else { continue }
                updated.version += 1
                do {
                    for state in states { try audit.append(event(Self.eventType(for: state), updated, caller: caller, now: now)) }
                } catch {
                    var restore = original
                    restore.version = updated.version
                    _ = try? store.update(restore)
                    return .failure(.unavailable)
                }
                return .success(updated)
            } catch {
                return .failure(.unavailable)
            }
        }
        return .failure(.unavailable)
    }

    static func eventType(for state: ElevationRequest.State) -> AuditEventType {
        switch state {
        case .requested: .elevationApproval
        case .approved: .elevationApproved
        case .denied: .elevationDenied
        case .expired: .elevationExpired
        case .withdrawn: .elevationWithdrawn
        case .active: .elevationActive
        case .ended: .elevationEnded
        case .revoked: .elevationRevoked
        }
    }

    private func event(_ type: AuditEventType, _ request: ElevationRequest, caller: Caller, now: Date) -> AuditEvent {
        var details = [
            "request_id": request.id.rawValue, "requester": request.requester, "login": request.login, "request_reason": request.reason,
            "duration": DurationText.format(request.duration), "state": request.state.rawValue, "origin": request.origin, "via": caller.via,
            "expires": String(Int(request.expiresAt.timeIntervalSince1970)),
            "approvals": String(request.approvers.count), "approvals_required": String(request.approvalsRequired),
        ]
        if let last = request.decisions.last {
            details["approver"] = last.approver
            if !last.comment.isEmpty { details["comment"] = last.comment }
        }
        if let end = request.grantEndsAt { details["grant_ends"] = String(Int(end.timeIntervalSince1970)) }
        let closing = [AuditEventType.elevationDenied, .elevationExpired, .elevationWithdrawn, .elevationEnded, .elevationRevoked].contains(type)
        return AuditEvent(
            type: type, time: now, actor: caller.actor, connection: caller.connection, target: request.target,
            reason: closing ? request.closeReason : nil, details: details
        )
    }

    private func refused(_ refusal: ElevationRefusal, action: String, id: ElevationID?, target: String?, caller: Caller, now: Date) {
        var details = ["action": action, "via": caller.via]
        details["request_id"] = id?.rawValue
        try? audit.append(AuditEvent(
            type: .elevationRefused, time: now, outcome: .failure, actor: caller.actor, connection: caller.connection, target: target,
            reason: refusal.description, details: details
        ))
    }
}
