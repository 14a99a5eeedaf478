/// Microsoft Teams payloads: a message with one Adaptive Card (schema 1.4) holding the
/// headline, a FactSet of the request's facts and an `Action.OpenUrl` to the approval page.
/// Teams workflow webhooks ("Post to a channel when a webhook request is received") take
/// exactly this envelope.
public enum TeamsMessage {
    public static let cardContentType = "application/vnd.microsoft.card.adaptive"

    public static func body(_ notice: ElevationNotice) -> [UInt8] {
        var card: [String: Any] = [
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": [
                ["type": "TextBlock", "text": notice.headline, "weight": "Bolder", "wrap": true],
                ["type": "FactSet", "facts": notice.facts.map { ["title": $0.label, "value": $0.value] }],
            ] as [[String: Any]],
        ]
        if let url = notice.approveURL {
            card["actions"] = [["type": "Action.OpenUrl", "title": "Open approval page", "url": url]]
        }
        return ChatMessage.json([
            "type": "message",
            "summary": notice.headline,
            "attachments": [["contentType": cardContentType, "content": card] as [String: Any]],
        ])
    }
}
