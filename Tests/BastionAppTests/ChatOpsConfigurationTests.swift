import BastionApp
import BastionCore
import Foundation
import Testing

/// `[[chatops.webhooks]]` and `[chatops.slack]`: the documented keys parse with their
/// defaults; every mistake names the key path and its line.
@Suite("Chat-ops configuration")
struct ChatOpsConfigurationTests {
    static let published = """
        [chatops]
        max_retry_delay = "30s"
        [[chatops.webhooks]]
        kind = "slack"
        url = "https://hooks.slack.com/services/T000/B000/XXXX"
        [[chatops.webhooks]]
        name = "ops-teams"
        kind = "teams"
        url = "https://example.webhook.office.com/workflows/abc"
        [[chatops.webhooks]]
        name = "mm"
        kind = "mattermost"
        url = "http://mattermost.example/hooks/xyz"
        events = ["elevation.*"]
        [[chatops.webhooks]]
        name = "pager"
        kind = "generic"
        url = "https://pager.example/bastion"
        secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        [chatops.slack]
        interactive = true
        signing_secret = "8f742231b10e8888abcd99yyyzzz85a5"
        users = { U0123ABC = "bob", U0456DEF = "carol" }
        """

    @Test("the documented keys parse, in order, with defaults")
    func published() throws {
        let chatops = try BastionConfiguration.parse(Self.published, file: "b.toml").chatops
        #expect(chatops.maxRetryDelay == 30)
        #expect(chatops.webhooks.map(\.name) == ["webhook-1", "ops-teams", "mm", "pager"])
        #expect(chatops.webhooks.map(\.kind) == [.slack, .teams, .mattermost, .generic])
        #expect(chatops.webhooks[0].events == ChatOpsFormatter.defaultEvents)
        #expect(chatops.webhooks[0].accepts("elevation.requested") && !chatops.webhooks[0].accepts("elevation.refused"))
        #expect(chatops.webhooks[2].accepts("elevation.refused"))
        #expect(chatops.webhooks[3].secret == "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        #expect(chatops.webhooks[3].cursorName == "chatops:pager")
        #expect(chatops.slack == .init(interactive: true, signingSecret: "8f742231b10e8888abcd99yyyzzz85a5", users: ["U0123ABC": "bob", "U0456DEF": "carol"]))
        #expect(BastionConfiguration.defaults.chatops == .defaults)
        #expect(!BastionConfiguration.defaults.chatops.slack.interactive)
        #expect(BastionConfiguration.defaults.chatops.maxRetryDelay == 60)
    }

    func expectError(_ text: String, key: String, line: Int, reason: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try BastionConfiguration.parse(text, file: "b.toml")
            Issue.record("parsed without error", sourceLocation: sourceLocation)
        } catch {
            #expect(error.key == key, "\(error)", sourceLocation: sourceLocation)
            #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
            #expect(error.reason.contains(reason), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("mistakes name the webhook's key and line")
    func errors() {
        let first = "[[chatops.webhooks]]\nkind = \"slack\"\nurl = \"https://h/1\"\n"
        expectError(first + "[[chatops.webhooks]]\nkind = \"discord\"\nurl = \"https://h\"\n", key: "chatops.webhooks[1].kind", line: 5, reason: "must be slack, mattermost, teams, generic")
        expectError(first + "[[chatops.webhooks]]\nname = \"webhook-1\"\nkind = \"teams\"\nurl = \"https://h\"\n", key: "chatops.webhooks[1].name", line: 5, reason: "already named")
        expectError("[[chatops.webhooks]]\nurl = \"https://h\"\n", key: "chatops.webhooks[0]", line: 1, reason: "needs a kind")
        expectError("[[chatops.webhooks]]\nkind = \"teams\"\n", key: "chatops.webhooks[0]", line: 1, reason: "needs a url")
        expectError("[[chatops.webhooks]]\nkind = \"teams\"\nurl = \"ftp://h\"\n", key: "chatops.webhooks[0].url", line: 3, reason: "http:// or https://")
        expectError("[[chatops.webhooks]]\nkind = \"generic\"\nurl = \"https://h\"\n", key: "chatops.webhooks[0]", line: 1, reason: "needs a secret")
        expectError("[[chatops.webhooks]]\nkind = \"generic\"\nurl = \"https://h\"\nsecret = \"whsec_%%\"\n", key: "chatops.webhooks[0].secret", line: 4, reason: "base64")
        expectError(first + "secret = \"s\"\n", key: "chatops.webhooks[0].secret", line: 4, reason: "only generic webhooks are signed")
        expectError(first + "events = [\"Elevation.*\"]\n", key: "chatops.webhooks[0].events", line: 4, reason: "invalid event type glob")
        expectError(first + "events = []\n", key: "chatops.webhooks[0].events", line: 4, reason: "must not be empty")
        expectError(first + "token = \"x\"\n", key: "chatops.webhooks[0].token", line: 4, reason: "not a key of a chat-ops webhook")
        expectError("[chatops]\nwebhook = 1\n", key: "chatops.webhook", line: 2, reason: "unknown key")
        expectError("[chatops]\nmax_retry_delay = \"0s\"\n", key: "chatops.max_retry_delay", line: 2, reason: "longer than 0s")
    }

    @Test("interactive Slack needs a signing secret and users; user ids and names are checked")
    func slackErrors() {
        expectError("[chatops.slack]\ninteractive = true\nusers = { U1 = \"bob\" }\n", key: "chatops.slack.interactive", line: 2, reason: "needs signing_secret")
        expectError("[chatops.slack]\ninteractive = true\nsigning_secret = \"s\"\n", key: "chatops.slack.interactive", line: 2, reason: "needs users")
        expectError("[chatops.slack]\nusers = { bob = \"bob\" }\n", key: "chatops.slack.users.bob", line: 2, reason: "not a Slack user id")
        expectError("[chatops.slack]\nusers = { U1 = \"Not A Name\" }\n", key: "chatops.slack.users.U1", line: 2, reason: "not a valid Bastion user name")
        expectError("[chatops.slack]\ninteractive = \"yes\"\n", key: "chatops.slack.interactive", line: 2, reason: "true or false")
    }

    /// The commented-out `[chatops]` sample in the shipped file is valid once uncommented.
    @Test("the shipped sample parses once uncommented")
    func shippedSample() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Config/bastiond.toml").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let sample = try #require(text.components(separatedBy: "# [chatops]\n").last?.components(separatedBy: "\n[log]").first)
        let uncommented = ("# [chatops]\n" + sample).split(separator: "\n").filter { $0.hasPrefix("# [") || $0.hasPrefix("#   ") }
            .map { $0.dropFirst(2) }.joined(separator: "\n")
        let chatops = try BastionConfiguration.parse(uncommented, file: "sample.toml").chatops
        #expect(chatops.webhooks.map(\.name) == ["ops-slack", "pager"])
        #expect(chatops.webhooks.map(\.kind) == [.slack, .generic])
        #expect(!chatops.slack.interactive && chatops.slack.users == ["U0123ABC": "bob"])
    }
}
