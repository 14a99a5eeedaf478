/// Mattermost incoming-webhook payloads: markdown `text` with the facts and a link to the
/// approval page (Mattermost's interactive buttons would need a callback of their own; the
/// link is enough and keeps the decision behind TOTP).
public enum MattermostMessage {
    public static func body(_ notice: ElevationNotice) -> [UInt8] {
        var lines = ["**\(escape(notice.headline))**"]
        lines += notice.facts.map { "**\($0.label):** \(escape($0.value))" }
        if let url = notice.approveURL { lines.append("[Open the approval page](\(url))") }
        return ChatMessage.json(["text": lines.joined(separator: "\n"), "username": "Bastion"])
    }

    /// Markdown emphasis and link characters in user text, so a reason cannot fake a link.
    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if "\\*_[]()<>`#|~".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
