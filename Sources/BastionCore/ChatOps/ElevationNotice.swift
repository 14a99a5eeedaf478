public import Foundation

/// What a chat message says about one `elevation.*` audit record: the facts the record
/// carries, read back out of its `details`, plus the approval link for a new request.
///
/// Built from the audit record rather than from the live request, so a message sent an hour
/// late (the webhook was down) still tells what happened then, not what is true now.
public struct ElevationNotice: Sendable, Equatable {
    /// The dotted event type (`elevation.requested`).
    public let type: String
    public let requestID: ElevationID
    public let requester: String
    public let target: String
    public let login: String
    public let reason: String
    /// As written by ``DurationText`` (`30m`).
    public let duration: String
    public let state: String
    /// The approver of the last decision, if any.
    public let approver: String?
    public let comment: String?
    /// Why the request or grant closed (`denied by bob`, `time up`).
    public let closeReason: String?
    public let grantEnds: Date?
    public let expires: Date?
    public let time: Date
    /// The approval page, only for `elevation.requested` (the token is recomputed from the id,
    /// never read from the log, where it must not be).
    public let approveURL: String?

    /// The notice for `event`, or nil when it is not an elevation record about one request.
    public init?(event: AuditEvent, links: ApprovalLink) {
        let type = event.type.name
        guard type.hasPrefix("elevation."), let id = event.details[.requestID].flatMap(ElevationID.init(typed:)) else { return nil }
        self.type = type
        self.requestID = id
        self.requester = event.details[.requester] ?? ""
        self.target = event.target ?? ""
        self.login = event.details[.login] ?? ""
        self.reason = event.details[.requestReason] ?? ""
        self.duration = event.details[.duration] ?? ""
        self.state = event.details[.state] ?? ""
        self.approver = event.details[.approver]
        self.comment = event.details[.comment]
        self.closeReason = event.reason
        self.grantEnds = event.details[.grantEnds].flatMap(TimeInterval.init).map(Date.init(timeIntervalSince1970:))
        self.expires = event.details[.expires].flatMap(TimeInterval.init).map(Date.init(timeIntervalSince1970:))
        self.time = event.time
        self.approveURL = event.type == .elevationRequested ? links.url(for: id) : nil
    }

    /// One line for notifications and fallbacks: what happened to which request.
    public var headline: String {
        switch type {
        case AuditEventType.elevationRequested.name:
            "\(requester) requests \(login) on \(target) for \(duration) (request \(requestID))"
        case AuditEventType.elevationApproval.name:
            "Request \(requestID) (\(requester), \(login) on \(target)): approved by \(approver ?? "an approver"), more approvals needed"
        case AuditEventType.elevationApproved.name:
            "Request \(requestID) (\(requester), \(login) on \(target)) approved by \(approver ?? "an approver")"
        case AuditEventType.elevationDenied.name:
            "Request \(requestID) (\(requester), \(login) on \(target)) denied by \(approver ?? "an approver")"
        case AuditEventType.elevationExpired.name:
            "Request \(requestID) (\(requester), \(login) on \(target)) expired undecided"
        case AuditEventType.elevationWithdrawn.name:
            "Request \(requestID) (\(requester), \(login) on \(target)) withdrawn"
        case AuditEventType.elevationRevoked.name:
            "Elevation \(requestID) (\(requester), \(login) on \(target)) revoked"
        case AuditEventType.elevationEnded.name:
            "Elevation \(requestID) (\(requester), \(login) on \(target)) ended"
        case AuditEventType.elevationActive.name:
            "Elevation \(requestID) (\(requester), \(login) on \(target)) is active"
        default:
            "Request \(requestID) (\(requester), \(login) on \(target)): \(type)"
        }
    }

    /// The facts worth showing, in reading order, each with a label.
    public var facts: [(label: String, value: String)] {
        var facts: [(String, String)] = [("Request", requestID.rawValue), ("Requester", requester), ("Target", target), ("Login", login)]
        if !reason.isEmpty { facts.append(("Reason", reason)) }
        if !duration.isEmpty { facts.append(("Duration", duration)) }
        if type != AuditEventType.elevationRequested.name {
            if !state.isEmpty { facts.append(("State", state)) }
            if let approver { facts.append(("Approver", approver)) }
            if let comment, !comment.isEmpty { facts.append(("Comment", comment)) }
            if let closeReason, !closeReason.isEmpty { facts.append(("Why", closeReason)) }
            if let grantEnds, state == "active" { facts.append(("Grant ends", Self.timestamp(grantEnds))) }
        } else if let expires {
            facts.append(("Decide before", Self.timestamp(expires)))
        }
        return facts
    }

    /// RFC 3339 UTC, as in the audit record: readable everywhere, no locale.
    static func timestamp(_ date: Date) -> String { AuditEvent.timestamp(date) }
}
