public import BastionCrypto
import Foundation

/// What a target's sudo check (pam_exec in sudo's account stage) asks, and the answer:
/// allow while the user holds an active grant on that target, otherwise file a request and
/// let the check poll it until a second engineer decides.
///
/// Socket-free: the HTTP route only parses and prints. Every answer, allow or not, is
/// audited as `elevation.sudo`; a wrong token is audited as `elevation.refused` and answers
/// nothing at all (the caller returns 401 whatever was wrong, so target names stay private).
///
/// Which Bastion user is asking: the unix login that ran sudo names a Bastion user of the
/// same name; otherwise the one Bastion user with a live relayed session as that login on
/// that target (shared logins such as `deploy`). Several such users is ambiguous and
/// refused: guessing could spend someone else's grant.
public struct SudoCheck: Sendable {
    public struct Query: Sendable, Equatable {
        /// `PAM_USER`: the unix login that invoked sudo.
        public var login: String
        /// The sudo invocation, for the approver and the audit record.
        public var command: String
        /// The request the check is polling, from an earlier `pending` answer.
        public var requestID: String?

        public init(login: String, command: String, requestID: String? = nil) {
            self.login = login
            self.command = command
            self.requestID = requestID
        }
    }

    public enum Decision: String, Sendable {
        case allow, pending, deny
    }

    public struct Answer: Sendable, Equatable {
        public var decision: Decision
        public var requestID: ElevationID?
        /// One line for the user's terminal.
        public var message: String
        /// The approval page of a pending request, for the requester to pass on.
        public var approveURL: String?

        public init(decision: Decision, requestID: ElevationID? = nil, message: String, approveURL: String? = nil) {
            self.decision = decision
            self.requestID = requestID
            self.message = message
            self.approveURL = approveURL
        }
    }

    /// Denials are values; `unauthorized` and `forbidden` carry no reason on purpose (rule 9):
    /// the audit record has it.
    public enum Outcome: Sendable, Equatable {
        case unauthorized
        /// The token was right, but `http.client_ca` is set and the connection presented no
        /// verified certificate naming the target.
        case forbidden
        case answered(Answer)
    }

    /// Mutual TLS on the check (`http.client_ca`): whether the connection must carry a
    /// client certificate, and the one it carried.
    public enum ClientCertificate: Sendable, Equatable {
        case notRequired
        /// Required: the verified certificate's names (nil when the client presented none).
        /// Only the TLS layer may fill this in; never a header or anything else a client sends.
        case required(TLSPeerIdentity?)
    }

    /// Longest command kept (audit record, request reason).
    static let commandLimit = 400

    private let elevation: ElevationService
    private let users: any UserStore
    private let sessions: any SessionStore
    private let policySource: any PolicySource
    /// As the file says now (a reload may replace it between two calls).
    private var policy: Policy { policySource.current }
    private let tokens: TargetToken
    private let audit: any AuditEmitter
    private let clock: any WallClock

    public init(
        elevation: ElevationService, users: any UserStore, sessions: any SessionStore, policy: any PolicySource, tokens: TargetToken,
        audit: any AuditEmitter, clock: any WallClock
    ) {
        self.elevation = elevation
        self.users = users
        self.sessions = sessions
        self.policySource = policy
        self.tokens = tokens
        self.audit = audit
        self.clock = clock
    }

    /// Answers the check of `targetName` that presented `bearer`; `query` is nil when the
    /// body could not be read (told only to a caller holding the right token).
    /// - Parameter connection: the HTTP request's origin (the target host), for the audit records.
    /// - Parameter certificate: what mutual TLS requires and what the connection presented;
    ///   checked after the token, so a wrong token still tells nothing about target names.
    public func check(
        target targetName: String, bearer: String?, query: Query?, connection: AuditEvent.Connection? = nil,
        certificate: ClientCertificate = .notRequired
    ) -> Outcome {
        let target = policy.targets[targetName]
        guard let bearer, tokens.verify(bearer, for: target, name: targetName), let target else {
            refuseToken(claimedTarget: targetName, connection: connection)
            return .unauthorized
        }
        if case .required(let identity) = certificate, !(identity?.names(target.name) ?? false) {
            let reason = identity.map { "client certificate (\($0.description)) does not name the target" } ?? "no client certificate"
            refuse(target: target.name, reason: reason, connection: connection)
            return .forbidden
        }
        guard let query, !query.login.isEmpty else {
            let answer = Answer(decision: .deny, message: "malformed check request (expected JSON with user and command)")
            _ = record(answer, user: nil, target: target.name, login: query?.login ?? "", command: query?.command ?? "", connection: connection)
            return .answered(answer)
        }
        let command = String(query.command.prefix(Self.commandLimit))
        var subject: User?
        var answer: Answer
        switch resolveUser(login: query.login, target: target.name) {
        case .refused(let refusal):
            answer = refusal
        case .user(let user):
            subject = user
            answer = decide(for: user, target: target.name, command: command, requestID: query.requestID, connection: connection)
        }
        if !record(answer, user: subject, target: target.name, login: query.login, command: command, connection: connection),
            answer.decision == .allow
        {
            // No record, no root: an allow the audit log cannot hold is a deny.
            answer = Answer(decision: .deny, requestID: answer.requestID, message: "Bastion cannot record this sudo right now; try again later")
        }
        return .answered(answer)
    }

    // MARK: - Steps

    private func decide(for user: User, target: String, command: String, requestID: String?, connection: AuditEvent.Connection?) -> Answer {
        let caller = ElevationService.Caller(actor: .init(user: user.name.rawValue, method: "sudo-check"), connection: connection, via: "sudo")
        do {
            if let grant = try elevation.activeGrant(user: user.name.rawValue, target: target, login: nil) {
                return Answer(decision: .allow, requestID: grant.id, message: "elevation \(grant.id) is active\(Self.until(grant))")
            }
            if let requestID {
                return try poll(requestID, user: user, target: target)
            }
            if let open = try elevation.requests(of: user.name).first(where: {
                $0.state == .requested && $0.target == target && $0.origin == "sudo"
            }) {
                // A second sudo while the first request is still undecided waits on that one:
                // approvers see one request, not one per attempt.
                return pending(open)
            }
        } catch {
            return Answer(decision: .deny, message: "Bastion cannot check elevations right now; try again later")
        }
        switch elevation.request(by: user, target: target, login: nil, reason: "sudo: \(command)", duration: nil, origin: "sudo", caller: caller) {
        case .success(let (request, _)):
            return pending(request)
        case .failure(let refusal):
            return Answer(decision: .deny, message: refusal.description)
        }
    }

    private func poll(_ id: String, user: User, target: String) throws -> Answer {
        // Someone else's request, or one for another target, is "no such request": a target
        // must not learn about requests it did not file.
        guard let typed = ElevationID(typed: id), let request = try elevation.request(id: typed),
              request.requester == user.name.rawValue, request.target == target
        else {
            return Answer(decision: .deny, message: "no request \(ElevationID(typed: id).map(\.rawValue) ?? "with that id") on this target")
        }
        switch request.state {
        case .requested:
            return pending(request)
        case .approved, .active:
            // Not caught by activeGrant above: it ended between the two reads.
            return Answer(decision: .deny, requestID: request.id, message: "request \(id) is no longer active")
        case .denied, .expired, .withdrawn, .ended, .revoked:
            let why = request.closeReason.map { ": \($0)" } ?? ""
            return Answer(decision: .deny, requestID: request.id, message: "request \(id) was \(request.state.rawValue)\(why)")
        }
    }

    private func pending(_ request: ElevationRequest) -> Answer {
        Answer(
            decision: .pending, requestID: request.id,
            message: "request \(request.id) for \(request.login) on \(request.target) waits for a second engineer's approval",
            approveURL: elevation.links.url(for: request.id)
        )
    }

    private enum Resolution {
        case user(User)
        case refused(Answer)
    }

    /// The Bastion user behind `login` on `target` (see the type's summary).
    private func resolveUser(login: String, target: String) -> Resolution {
        func deny(_ message: String) -> Resolution { .refused(Answer(decision: .deny, message: message)) }
        do {
            var candidate: User?
            if let name = UserName(login), let user = try users.user(named: name) {
                candidate = user
            } else {
                let names = Set(try sessions.liveSessions().filter { $0.target == target && $0.login == login }.map(\.user))
                guard names.count <= 1 else { return deny("several Bastion users are logged in as \(login) here (ambiguous); use your own login") }
                guard let only = names.first, let name = UserName(only), let user = try users.user(named: name) else {
                    return deny("no Bastion user for \(login) on this host")
                }
                candidate = user
            }
            guard let user = candidate, !user.isLocked else { return deny("the Bastion account for \(login) is locked") }
            return .user(user)
        } catch {
            return deny("Bastion cannot check elevations right now; try again later")
        }
    }

    // MARK: - Audit

    /// Returns false when the audit log refused the record.
    private func record(_ answer: Answer, user: User?, target: String, login: String, command: String, connection: AuditEvent.Connection?) -> Bool {
        var details = ["login": login, "command": command, "decision": answer.decision.rawValue]
        details["request_id"] = answer.requestID?.rawValue
        return (try? audit.append(AuditEvent(
            type: .elevationSudo, time: clock.now(), outcome: answer.decision == .deny ? .failure : .success,
            actor: .init(user: user?.name.rawValue, method: "sudo-check"), connection: connection, target: target,
            reason: answer.decision == .deny ? answer.message : nil, details: details
        ))) != nil
    }

    /// A right token on a connection without the client certificate mutual TLS requires.
    private func refuse(target: String, reason: String, connection: AuditEvent.Connection?) {
        try? audit.append(AuditEvent(
            type: .elevationRefused, time: clock.now(), outcome: .failure, actor: .init(user: nil, method: "sudo-check"), connection: connection,
            target: target, reason: reason, details: ["action": "sudo", "via": "sudo"]
        ))
    }

    private func refuseToken(claimedTarget: String, connection: AuditEvent.Connection?) {
        try? audit.append(AuditEvent(
            type: .elevationRefused, time: clock.now(), outcome: .failure, actor: .init(user: nil, method: "sudo-check"), connection: connection,
            target: PolicyRules.isValidName(claimedTarget) ? claimedTarget : nil, reason: "wrong target token",
            details: ["action": "sudo", "via": "sudo"]
        ))
    }

    private static func until(_ grant: ElevationRequest) -> String {
        guard let end = grant.grantEndsAt else { return "" }
        return " until " + ISO8601DateFormatter().string(from: end)
    }
}
