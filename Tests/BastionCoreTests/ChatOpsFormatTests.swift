import BastionCore
import Foundation
import Testing

/// The chat messages built from `elevation.*` audit records, one format at a time, without
/// a socket.
@Suite("Chat-ops formats")
struct ChatOpsFormatTests {
    static let links = ApprovalLink(key: Array(repeating: 7, count: 32), publicURL: "https://bastion.example/")
    static let time = Date(timeIntervalSince1970: 1_700_000_000)

    static func event(_ type: AuditEventType, extra: [String: String] = [:], reason: String? = nil) -> AuditEvent {
        var details = [
            "request_id": "3f9a01c2", "requester": "alice", "login": "root", "request_reason": "fix <disk> & \"logs\"",
            "duration": "30m", "state": "requested", "expires": "1700000900", "via": "ssh",
        ]
        details.merge(extra) { $1 }
        return AuditEvent(type: type, time: time, actor: .init(user: "alice", method: "publickey"), target: "web01", reason: reason, details: details)
    }

    static func object(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    static func format(_ style: ChatOpsFormatter.Style, _ event: AuditEvent) throws -> ChatMessage {
        try #require(ChatOpsFormatter(style: style, links: links).message(for: event, eventID: "bastion-test-42", now: time))
    }

    @Test("a request's notice carries the facts and the approval link recomputed from the id")
    func notice() throws {
        let notice = try #require(ElevationNotice(event: Self.event(.elevationRequested), links: Self.links))
        #expect(notice.approveURL == Self.links.url(for: "3f9a01c2"))
        #expect(notice.approveURL?.hasPrefix("https://bastion.example/approve/3f9a01c2.") == true)
        #expect(notice.requester == "alice" && notice.target == "web01" && notice.login == "root" && notice.duration == "30m")
        #expect(notice.headline.contains("alice requests root on web01 for 30m"))
        let approved = try #require(ElevationNotice(event: Self.event(.elevationApproved, extra: ["state": "active", "approver": "bob"]), links: Self.links))
        #expect(approved.approveURL == nil)
        #expect(approved.headline.contains("approved by bob"))
        #expect(ElevationNotice(event: AuditEvent(type: .userLock, time: Self.time), links: Self.links) == nil)
        #expect(ElevationNotice(event: AuditEvent(type: .elevationRefused, time: Self.time, details: ["action": "request"]), links: Self.links) == nil)
    }

    @Test("slack: Block Kit with the facts, a link button, and approve/deny only when interactive")
    func slack() throws {
        let body = try Self.object(try Self.format(.slack(interactive: false), Self.event(.elevationRequested)).body)
        #expect((body["text"] as? String)?.contains("alice requests root on web01") == true)
        let blocks = try #require(body["blocks"] as? [[String: Any]])
        let section = try #require((blocks[0]["text"] as? [String: Any])?["text"] as? String)
        for fact in ["alice", "web01", "root", "30m", "fix &lt;disk&gt; &amp; \"logs\""] { #expect(section.contains(fact), "\(section)") }
        let actions = try #require(blocks.first { $0["type"] as? String == "actions" })
        let buttons = try #require(actions["elements"] as? [[String: Any]])
        #expect(buttons.count == 1)
        #expect(buttons[0]["url"] as? String == Self.links.url(for: "3f9a01c2"))

        let interactive = try Self.object(try Self.format(.slack(interactive: true), Self.event(.elevationRequested)).body)
        let all = try #require((interactive["blocks"] as? [[String: Any]])?.last?["elements"] as? [[String: Any]])
        #expect(all.compactMap { $0["action_id"] as? String } == ["bastion_open", SlackMessage.approveAction, SlackMessage.denyAction])
        #expect(all.dropFirst().allSatisfy { $0["value"] as? String == "3f9a01c2" })

        let denied = try Self.object(try Self.format(.slack(interactive: true), Self.event(
            .elevationDenied, extra: ["state": "denied", "approver": "bob", "comment": "not now"], reason: "denied by bob"
        )).body)
        #expect((denied["blocks"] as? [[String: Any]])?.count == 1, "no buttons on a follow-up")
        #expect((denied["text"] as? String)?.contains("denied by bob") == true)
    }

    @Test("mattermost: markdown text with a link to the approval page")
    func mattermost() throws {
        let body = try Self.object(try Self.format(.mattermost, Self.event(.elevationRequested)).body)
        let text = try #require(body["text"] as? String)
        #expect(text.contains("[Open the approval page](\(Self.links.url(for: "3f9a01c2")))"))
        #expect(text.contains("fix \\<disk\\> & \"logs\""))
    }

    @Test("teams: an Adaptive Card 1.4 with a FactSet and Action.OpenUrl")
    func teams() throws {
        let body = try Self.object(try Self.format(.teams, Self.event(.elevationRequested)).body)
        #expect(body["type"] as? String == "message")
        let attachment = try #require((body["attachments"] as? [[String: Any]])?.first)
        #expect(attachment["contentType"] as? String == "application/vnd.microsoft.card.adaptive")
        let card = try #require(attachment["content"] as? [String: Any])
        #expect(card["type"] as? String == "AdaptiveCard" && card["version"] as? String == "1.4")
        let facts = try #require((card["body"] as? [[String: Any]])?.first { $0["type"] as? String == "FactSet" }?["facts"] as? [[String: String]])
        #expect(facts.contains(["title": "Requester", "value": "alice"]) && facts.contains(["title": "Target", "value": "web01"]))
        let action = try #require((card["actions"] as? [[String: Any]])?.first)
        #expect(action["type"] as? String == "Action.OpenUrl" && action["url"] as? String == Self.links.url(for: "3f9a01c2"))
    }

    @Test("generic: flat JSON, approve_url only on requested, follow-ups carry the decision")
    func generic() throws {
        let signer = try #require(StandardWebhookMessage(secret: "raw secret"))
        let message = try Self.format(.generic(signer), Self.event(.elevationRequested))
        let body = try Self.object(message.body)
        #expect(body["type"] as? String == "elevation.requested" && body["request_id"] as? String == "3f9a01c2")
        #expect(body["approve_url"] as? String == Self.links.url(for: "3f9a01c2"))
        #expect(body["reason"] as? String == "fix <disk> & \"logs\"")
        #expect(message.headers["webhook-id"] == "bastion-test-42" && message.headers["webhook-timestamp"] == "1700000000")
        let signature = signer.signature(id: "bastion-test-42", timestamp: "1700000000", body: message.body)
        #expect(message.headers["webhook-signature"] == signature)

        let approved = try Self.object(try Self.format(.generic(signer), Self.event(
            .elevationApproved, extra: ["state": "active", "approver": "bob", "comment": "ok", "grant_ends": "1700001800"]
        )).body)
        #expect(approved["approve_url"] == nil)
        #expect(approved["approver"] as? String == "bob" && approved["comment"] as? String == "ok" && approved["state"] as? String == "active")
    }

    /// Vectors computed once with Python's `hmac` (see the commit that added them).
    @Test("generic: Standard Webhooks signature matches an independent computation, whsec_ and raw secrets")
    func standardWebhooksVector() throws {
        let body = Array(#"{"request_id":"3f9a01c2","type":"elevation.requested"}"#.utf8)
        let whsec = try #require(StandardWebhookMessage(secret: "whsec_YmFzdGlvbi1jaGF0b3BzLXRlc3Qta2V5LTMyYnl0ZXM="))
        #expect(whsec.signature(id: "bastion-test-42", timestamp: "1700000000", body: body) == "v1,PtXYCOgaW7DsHWlkIj/QOGR+4nkxYzUA5n27heloLuA=")
        let raw = try #require(StandardWebhookMessage(secret: "plain text secret"))
        #expect(raw.signature(id: "bastion-test-42", timestamp: "1700000000", body: body) == "v1,QYksdGiSkxlb0oG9Qrq8Ykmv+5wVR541+gdy0KZl+Fs=")
        #expect(StandardWebhookMessage(secret: "whsec_%%%") == nil)
    }

    @Test("the default events are the request, the decision and the end")
    func defaults() {
        #expect(ChatOpsFormatter.defaultEvents.allSatisfy { name in AuditEventType.all.contains { $0.name == name } })
        #expect(!ChatOpsFormatter.defaultEvents.contains("elevation.refused"))
    }
}
