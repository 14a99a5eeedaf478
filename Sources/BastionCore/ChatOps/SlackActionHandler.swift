import Foundation

/// Slack's interactive buttons (`bastion_approve`, `bastion_deny`) turned into elevation
/// decisions: verify Slack's signature, map the Slack user to a Bastion user, then let the
/// elevation service judge (it refuses self-approval and non-approvers, and audits that).
///
/// Every refusal made here (bad signature, stale timestamp, unknown Slack user, a payload
/// that is not a button click) is an `elevation.refused` record before the answer goes out;
/// the answer itself says nothing an attacker could use (rule 9).
public struct SlackActionHandler: Sendable {
    /// What goes back to Slack: an HTTP status and a short ephemeral text.
    public struct Answer: Sendable, Equatable {
        public var status: Int
        public var text: String

        static let unverified = Answer(status: 401, text: "Request not verified.")
        static let notDone = Answer(status: 200, text: "Bastion could not do that. Use the approval page.")
    }

    let users: [String: String]
    let signature: SlackRequestSignature
    let elevation: ElevationService
    let audit: any AuditEmitter
    let clock: any WallClock

    /// - Parameter users: Slack user id → Bastion user name (`[chatops.slack] users`).
    public init(users: [String: String], signature: SlackRequestSignature, elevation: ElevationService, audit: any AuditEmitter, clock: any WallClock) {
        self.users = users
        self.signature = signature
        self.elevation = elevation
        self.audit = audit
        self.clock = clock
    }

    /// - Parameter connection: where the request came from, for the audit records.
    public func handle(body: [UInt8], signature header: String?, timestamp: String?, connection: AuditEvent.Connection? = nil) -> Answer {
        let now = clock.now()
        if let problem = signature.problem(signature: header, timestamp: timestamp, body: body, now: now) {
            refuse(problem.rawValue, slackUser: nil, requestID: nil, connection: connection, now: now)
            return .unverified
        }
        guard let click = SlackClick(formBody: body) else {
            refuse("Slack payload is not a Bastion button click", slackUser: nil, requestID: nil, connection: connection, now: now)
            return .notDone
        }
        guard let name = users[click.slackUser], let approver = UserName(name) else {
            refuse(
                "Slack user \(click.slackUser) is not mapped to a Bastion user", slackUser: click.slackUser, requestID: click.requestID,
                connection: connection, now: now
            )
            return .notDone
        }
        let caller = ElevationService.Caller(actor: .init(user: name, method: "slack"), connection: connection, via: "slack")
        let result = elevation.decide(
            id: click.requestID, approve: click.approve, approver: approver, proof: .slackUser(click.slackUser), comment: "", caller: caller
        )
        switch result {
        case .success: return Answer(status: 200, text: "\(click.approve ? "Approved" : "Denied") request \(click.requestID).")
        case .failure: return .notDone  // audited by the service
        }
    }

    private func refuse(_ reason: String, slackUser: String?, requestID: ElevationID?, connection: AuditEvent.Connection?, now: Date) {
        var details = ["action": "slack", "via": "slack"]
        details["slack_user"] = slackUser
        details["request_id"] = requestID?.rawValue
        try? audit.append(AuditEvent(
            type: .elevationRefused, time: now, outcome: .failure, actor: .init(user: slackUser.flatMap { users[$0] }, method: "slack"),
            connection: connection, reason: reason, details: details
        ))
    }
}

/// The one button click Bastion understands in Slack's `payload` form field
/// (`block_actions`): who clicked, which button, which request.
public struct SlackClick: Sendable, Equatable {
    public var slackUser: String
    public var approve: Bool
    public var requestID: ElevationID

    /// Nil unless `body` is `payload=<json>` with a user id and a Bastion approve/deny button.
    public init?(formBody body: [UInt8]) {
        guard let payload = Self.formField("payload", in: String(decoding: body, as: UTF8.self)),
            let object = try? JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any],
            let user = (object["user"] as? [String: Any])?["id"] as? String, !user.isEmpty,
            let action = (object["actions"] as? [[String: Any]])?.first,
            let actionID = action["action_id"] as? String, let value = (action["value"] as? String).flatMap(ElevationID.init(typed:))
        else { return nil }
        switch actionID {
        case SlackMessage.approveAction: approve = true
        case SlackMessage.denyAction: approve = false
        default: return nil
        }
        slackUser = user
        requestID = value
    }

    /// The value of `name` in an `application/x-www-form-urlencoded` body.
    static func formField(_ name: String, in body: String) -> String? {
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == name else { continue }
            return String(parts[1]).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return nil
    }
}
