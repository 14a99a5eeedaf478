public import BastionCore

#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// `[chatops]`: the webhooks elevation requests are posted to, and Slack's optional
/// interactive buttons (docs/configuration.md).
public struct ChatOpsConfiguration: Sendable, Equatable {
    public var webhooks: [Webhook]
    public var slack: Slack
    /// `max_retry_delay`: the longest wait between attempts at a webhook that is down (the
    /// backoff doubles up to it), so a message reaches chat soon after the endpoint is back.
    public var maxRetryDelay: TimeInterval

    public init(webhooks: [Webhook] = [], slack: Slack = .init(), maxRetryDelay: TimeInterval = 60) {
        self.webhooks = webhooks
        self.slack = slack
        self.maxRetryDelay = maxRetryDelay
    }

    public static let defaults = ChatOpsConfiguration()

    /// One `[[chatops.webhooks]]` table.
    public struct Webhook: Sendable, Equatable {
        public var name: String
        public var kind: ChatOpsKind
        public var url: String
        /// The Standard Webhooks signing secret (`generic` only; `whsec_` + base64, or raw text).
        public var secret: String?
        /// Dotted type globs; default ``ChatOpsFormatter/defaultEvents``.
        public var events: [String]

        public init(name: String, kind: ChatOpsKind, url: String, secret: String? = nil, events: [String] = ChatOpsFormatter.defaultEvents) {
            self.name = name
            self.kind = kind
            self.url = url
            self.secret = secret
            self.events = events
        }

        /// The outbox cursor of this webhook: apart from the SIEM sinks' names.
        public var cursorName: String { Self.cursorName(of: name) }

        /// The outbox cursor of the webhook named `name`: its messages' position.
        public static func cursorName(of name: String) -> String { "chatops:\(name)" }

        public func accepts(_ type: String) -> Bool {
            events.contains { Glob($0).matches(type) }
        }
    }

    /// `[chatops.slack]`: approve/deny buttons in Slack messages. Off by default: a click
    /// proves a Slack session, not a second factor at decision time.
    public struct Slack: Sendable, Equatable {
        public var interactive: Bool
        /// Slack's signing secret, which signs every interactive request.
        public var signingSecret: String?
        /// Slack user id → Bastion user name; nobody else may decide from Slack.
        public var users: [String: String]

        public init(interactive: Bool = false, signingSecret: String? = nil, users: [String: String] = [:]) {
            self.interactive = interactive
            self.signingSecret = signingSecret
            self.users = users
        }
    }
}

extension BastionConfiguration {
    static func parseChatOps(_ chatops: TOMLTableReader) throws(ConfigurationError) -> ChatOpsConfiguration {
        try chatops.refuseUnknownKeys(allowed: ["webhooks", "slack", "max_retry_delay"])
        var parsed = ChatOpsConfiguration.defaults
        parsed.maxRetryDelay = try chatops.duration("max_retry_delay", default: parsed.maxRetryDelay, maximum: 3_600)
        for (index, table) in try chatops.arrayOfTables("webhooks").enumerated() {
            let webhook = try parseWebhook(table, number: index + 1)
            if parsed.webhooks.contains(where: { $0.name == webhook.name }) {
                throw table.error("name", "another webhook is already named \"\(webhook.name)\"")
            }
            parsed.webhooks.append(webhook)
        }
        if let slack = try chatops.table("slack") {
            parsed.slack = try parseSlack(slack)
        }
        return parsed
    }

    private static func parseWebhook(_ table: TOMLTableReader, number: Int) throws(ConfigurationError) -> ChatOpsConfiguration.Webhook {
        try table.refuseUnknownKeys(allowed: ["name", "kind", "url", "secret", "events"], reason: "not a key of a chat-ops webhook")
        let name = try table.nonEmptyString("name", default: "webhook-\(number)")
        guard PolicyRules.isValidName(name) else { throw table.error("name", "invalid webhook name (use letters, digits, \"_\", \".\" and \"-\")") }
        let kinds = ChatOpsKind.allCases.map(\.rawValue).joined(separator: ", ")
        guard table.has("kind") else { throw table.error(nil, "webhook \"\(name)\" needs a kind: \(kinds)") }
        let kindName = try table.string("kind", default: "")
        guard let kind = ChatOpsKind(rawValue: kindName) else { throw table.error("kind", "must be \(kinds), not \"\(kindName)\"") }
        guard table.has("url") else { throw table.error(nil, "webhook \"\(name)\" needs a url") }
        let url = try table.nonEmptyString("url", default: "")
        guard let parsedURL = URL(string: url), ["http", "https"].contains(parsedURL.scheme ?? ""), parsedURL.host != nil else {
            throw table.error("url", "must be an http:// or https:// URL")
        }
        var secret: String?
        if kind == .generic {
            guard table.has("secret") else { throw table.error(nil, "generic webhook \"\(name)\" needs a secret (Standard Webhooks signing secret)") }
            let text = try table.nonEmptyString("secret", default: "")
            guard StandardWebhookMessage.key(fromSecret: text) != nil else { throw table.error("secret", "a whsec_ secret must be whsec_ followed by base64") }
            secret = text
        } else if table.has("secret") {
            throw table.error("secret", "only generic webhooks are signed; a \(kind.rawValue) webhook's URL is its secret")
        }
        let events = try table.strings("events", default: ChatOpsFormatter.defaultEvents, isValid: isEventGlob) {
            "invalid event type glob \"\($0)\" (e.g. \"elevation.*\", \"elevation.requested\")"
        }
        guard !events.isEmpty else { throw table.error("events", "must not be empty (leave it out for the elevation events)") }
        return ChatOpsConfiguration.Webhook(name: name, kind: kind, url: url, secret: secret, events: events)
    }

    private static func parseSlack(_ slack: TOMLTableReader) throws(ConfigurationError) -> ChatOpsConfiguration.Slack {
        try slack.refuseUnknownKeys(allowed: ["interactive", "signing_secret", "users"])
        var parsed = ChatOpsConfiguration.Slack()
        parsed.interactive = try slack.bool("interactive", default: false)
        if slack.has("signing_secret") { parsed.signingSecret = try slack.nonEmptyString("signing_secret", default: "") }
        if let users = try slack.table("users") {
            for slackID in users.keysInFileOrder {
                guard !slackID.isEmpty, slackID.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber) }) else {
                    throw users.error(slackID, "not a Slack user id (like U0123ABC)")
                }
                let name = try users.nonEmptyString(slackID, default: "")
                guard UserName(name) != nil else { throw users.error(slackID, "\"\(name)\" is not a valid Bastion user name") }
                parsed.users[slackID] = name
            }
        }
        if parsed.interactive {
            guard parsed.signingSecret != nil else { throw slack.error("interactive", "interactive = true needs signing_secret (Slack app → Basic Information)") }
            guard !parsed.users.isEmpty else { throw slack.error("interactive", "interactive = true needs users (Slack user id = Bastion user name)") }
        }
        return parsed
    }
}
