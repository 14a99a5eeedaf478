import Foundation

/// Slack incoming-webhook payloads (Block Kit): a `text` fallback for notifications, a
/// section naming who wants what and why, and a link button to the approval page.
///
/// Approve/deny buttons are added only when `[chatops.slack] interactive = true`: a click
/// proves a Slack session, not a second factor, so the link to the TOTP-protected page is
/// always the first choice.
public enum SlackMessage {
    /// `action_id`s of the interactive buttons; their `value` is the request id.
    public static let approveAction = "bastion_approve"
    public static let denyAction = "bastion_deny"

    public static func body(_ notice: ElevationNotice, interactive: Bool) -> [UInt8] {
        let lines = notice.facts.map { "*\($0.label):* \(escape($0.value))" }
        var blocks: [[String: Any]] = [
            ["type": "section", "text": ["type": "mrkdwn", "text": "*\(escape(notice.headline))*\n" + lines.joined(separator: "\n")]]
        ]
        if let url = notice.approveURL {
            var elements: [[String: Any]] = [
                ["type": "button", "text": ["type": "plain_text", "text": "Open approval page"], "url": url, "action_id": "bastion_open"]
            ]
            if interactive {
                elements.append([
                    "type": "button", "text": ["type": "plain_text", "text": "Approve"], "style": "primary",
                    "action_id": approveAction, "value": notice.requestID.rawValue,
                ])
                elements.append([
                    "type": "button", "text": ["type": "plain_text", "text": "Deny"], "style": "danger",
                    "action_id": denyAction, "value": notice.requestID.rawValue,
                ])
            }
            blocks.append(["type": "actions", "block_id": "bastion_\(notice.requestID)", "elements": elements])
        }
        return ChatMessage.json(["text": notice.headline, "blocks": blocks])
    }

    /// mrkdwn control characters (Slack: escape `&`, `<`, `>`), so a reason cannot forge a link
    /// or a mention.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
