import BastionCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The HTML of the approval page (`/approve/<token>`): the request, and a form asking for the
/// approver's user name and a fresh TOTP code. Plain HTML, no script: nothing for a content
/// security policy to allow, and it works in any browser a chat link opens.
enum ApprovalPage {
    static func form(_ request: ElevationRequest, now: Date, message: String? = nil) -> String {
        let remaining = max(0, request.expiresAt.timeIntervalSince(now).rounded(.down))
        var body = "<h1>Elevation request \(escape(request.id.rawValue))</h1>\n"
        if let message { body += "<p class=\"error\">\(escape(message))</p>\n" }
        body += summary(request)
        body += "<p>Expires in \(escape(DurationText.format(remaining))). Approving lets \(escape(request.requester)) use "
        body += "<b>\(escape(request.login))</b> on <b>\(escape(request.target))</b> for \(escape(DurationText.format(request.duration))).</p>\n"
        body += """
            <form method="post" autocomplete="off">
            <label>Your Bastion user name <input name="username" required maxlength="32" autocapitalize="none" spellcheck="false"></label>
            <label>Your current TOTP code <input name="code" required inputmode="numeric" pattern="[0-9]{6,8}" maxlength="8" autocomplete="one-time-code"></label>
            <label>Comment <input name="comment" maxlength="500"></label>
            <button name="decision" value="approve">Approve</button>
            <button name="decision" value="deny" class="deny">Deny</button>
            </form>
            <p class="note">The requester can never approve their own request. Your code is checked like a login and cannot be used twice.</p>

            """
        return page(title: "Approve \(request.id)", body: body)
    }

    static func outcome(_ request: ElevationRequest, headline: String) -> String {
        page(title: headline, body: "<h1>\(escape(headline))</h1>\n" + summary(request))
    }

    static func message(_ headline: String, detail: String) -> String {
        page(title: headline, body: "<h1>\(escape(headline))</h1>\n<p>\(escape(detail))</p>\n")
    }

    private static func summary(_ request: ElevationRequest) -> String {
        let rows: [(String, String)] = [
            ("Requester", request.requester), ("Target", request.target), ("Login", request.login),
            ("Reason", request.reason), ("Duration", DurationText.format(request.duration)), ("State", request.state.rawValue),
            ("Approvals", "\(request.approvers.count) of \(request.approvalsRequired)"),
        ]
        return "<table>\n" + rows.map { "<tr><th>\(escape($0.0))</th><td>\(escape($0.1))</td></tr>" }.joined(separator: "\n") + "\n</table>\n"
    }

    private static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Bastion: \(escape(title))</title>
        <style>
        body{font-family:system-ui,sans-serif;max-width:40em;margin:2em auto;padding:0 1em;color:#1b1f24;background:#f6f8fa}
        h1{font-size:1.4em}table{border-collapse:collapse;margin:1em 0;background:#fff}th,td{text-align:left;padding:.4em .8em;border:1px solid #d0d7de}
        label{display:block;margin:.6em 0}input{display:block;font-size:1em;padding:.3em;width:100%;max-width:20em}
        button{font-size:1em;padding:.5em 1.2em;margin:.8em .5em 0 0;background:#1f883d;color:#fff;border:0;border-radius:4px}
        button.deny{background:#cf222e}.error{color:#cf222e;font-weight:bold}.note{color:#57606a;font-size:.9em}
        </style></head>
        <body>
        \(body)</body></html>

        """
    }

    /// HTML-escapes text for element content and attribute values.
    static func escape(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&#39;"
            default: result.append(character)
            }
        }
        return result
    }
}
