/// The shape of message a chat-ops webhook takes (`[[chatops.webhooks]] kind`).
public enum ChatOpsKind: String, Sendable, CaseIterable {
    /// Slack incoming webhook, Block Kit.
    case slack
    /// Mattermost incoming webhook (Slack-like `text`, markdown).
    case mattermost
    /// Microsoft Teams workflow webhook with an Adaptive Card.
    case teams
    /// Any receiver: plain JSON signed per Standard Webhooks.
    case generic
}
