import BastionCore
import BastionDelivery
import Foundation

/// Builds one ``SinkRelay`` per `[[chatops.webhooks]]` entry, on the same audit outbox as the
/// SIEM sinks but with cursors of their own (`chatops:<name>`), so chat messages get the
/// SIEM's guarantees: in order, at least once, retried with backoff, dead-lettered on 4xx.
enum ChatOpsRelays {
    static func make(
        _ configuration: ChatOpsConfiguration, links: ApprovalLink, outbox: any OutboxStore, installation: String, clock: any WallClock
    ) throws -> [SinkRelay] {
        try configuration.webhooks.map { webhook in
            let sink = ChatOpsSink(
                name: webhook.cursorName, url: webhook.url,
                formatter: ChatOpsFormatter(style: try style(webhook, slack: configuration.slack), links: links), clock: clock,
                accepts: { [webhook] in webhook.accepts($0) }
            )
            // A webhook seen for the first time starts at the head: no backlog of old requests in chat.
            _ = try outbox.cursor(of: sink.name, now: clock.now())
            // One record per step: the cursor moves after each message, so a failure never
            // re-posts messages already in the channel (a batch would be retried whole).
            return SinkRelay(
                sink: sink, outbox: outbox, installation: installation, backoff: DeliveryBackoff(base: 0.5, cap: configuration.maxRetryDelay),
                clock: clock, batchLimit: 1
            )
        }
    }

    private static func style(_ webhook: ChatOpsConfiguration.Webhook, slack: ChatOpsConfiguration.Slack) throws -> ChatOpsFormatter.Style {
        switch webhook.kind {
        case .slack: return .slack(interactive: slack.interactive)
        case .mattermost: return .mattermost
        case .teams: return .teams
        case .generic:
            guard let secret = webhook.secret, let signer = StandardWebhookMessage(secret: secret) else {
                throw StartupError(message: "chat-ops webhook \(webhook.name) needs a valid secret")
            }
            return .generic(signer)
        }
    }
}
