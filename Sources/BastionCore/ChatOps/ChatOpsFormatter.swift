public import Foundation

/// Turns one audit record into the HTTP message one webhook expects: the single place that
/// knows which kinds exist and how each is built. Pure (the time comes in), so every format
/// is tested without a socket.
public struct ChatOpsFormatter: Sendable {
    public enum Style: Sendable {
        /// Slack Block Kit; `interactive` adds approve/deny buttons.
        case slack(interactive: Bool)
        case mattermost
        case teams
        /// Standard Webhooks JSON, signed with this key.
        case generic(StandardWebhookMessage)
    }

    private let style: Style
    private let links: ApprovalLink

    public init(style: Style, links: ApprovalLink) {
        self.style = style
        self.links = links
    }

    /// The message for `event`, or nil when the event is not about one elevation request
    /// (nothing to say in chat). `eventID` is the record's stable id (`webhook-id`).
    public func message(for event: AuditEvent, eventID: String, now: Date) -> ChatMessage? {
        guard let notice = ElevationNotice(event: event, links: links) else { return nil }
        switch style {
        case .slack(let interactive): return ChatMessage(body: SlackMessage.body(notice, interactive: interactive))
        case .mattermost: return ChatMessage(body: MattermostMessage.body(notice))
        case .teams: return ChatMessage(body: TeamsMessage.body(notice))
        case .generic(let signer): return signer.message(notice, id: eventID, now: now)
        }
    }

    /// The event types a webhook gets unless its `events` say otherwise: the request, the
    /// decision and the end, not the bookkeeping in between (`approval`, `active`, `sudo`).
    public static let defaultEvents = [
        "elevation.requested", "elevation.approved", "elevation.denied", "elevation.expired", "elevation.withdrawn",
        "elevation.revoked", "elevation.ended",
    ]
}
