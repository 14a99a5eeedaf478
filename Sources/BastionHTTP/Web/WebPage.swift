import BastionCore
import Foundation

/// The HTML of the auditors' web view: the session list with its filter form, a session's
/// player page, and the short pages that explain a refusal. No inline script (the content
/// security policy forbids it): the player page starts the player from `/assets/player-page.js`,
/// which reads the element's data attributes.
enum WebPage {
    /// The filter form's values, as typed.
    struct Filter {
        var user = ""
        var target = ""
        var since = ""
        var until = ""
        var grep = ""
    }

    static func list(_ sessions: [IndexedSession], live: [SessionBroadcast.Info] = [], filter: Filter, viewer: String, message: String? = nil) -> String {
        var body = liveSection(live) + "<h1>Recorded sessions</h1>\n"
        if let message { body += "<p class=\"error\">\(escape(message))</p>\n" }
        body += "<form method=\"get\" action=\"/sessions\" class=\"filter\">\n"
        for (name, label, value, hint) in [
            ("user", "User", filter.user, "alice"), ("target", "Target", filter.target, "web01"), ("since", "Since", filter.since, "7d or 2026-11-01"),
            ("until", "Until", filter.until, "2026-11-02T09:00:00Z"), ("grep", "Printed", filter.grep, "words the session printed"),
        ] {
            body += "<label>\(label) <input name=\"\(name)\" value=\"\(escape(value))\" placeholder=\"\(escape(hint))\" spellcheck=\"false\"></label>\n"
        }
        body += "<button>Filter</button> <a href=\"/sessions\">Clear</a>\n</form>\n"
        guard !sessions.isEmpty else {
            return page(title: "Sessions", body: body + "<p>No session matches.</p>\n", viewer: viewer)
        }
        body += """
            <table class="sessions">
            <thead><tr><th>ID</th><th>User</th><th>Login@target</th><th>Start (UTC)</th><th>Duration</th><th>Exit</th><th>Size</th><th>Elevated</th></tr></thead>
            <tbody>

            """
        for session in sessions {
            body += "<tr><td><a href=\"/sessions/\(escape(session.id.rawValue))\">\(escape(session.id.rawValue))</a></td><td>\(escape(session.user))</td>"
            body += "<td>\(escape(session.login))@\(escape(session.target))</td><td>\(escape(time(session.startedAt)))</td>"
            body += "<td>\(escape(DurationText.format(max(0, session.duration.rounded(.down)))))</td><td>\(escape(session.exitStatus ?? "-"))</td>"
            body += "<td>\(escape(size(session.recordingSize)))</td>"
            body += "<td>\(session.elevationRequest.map { "yes (\(escape($0)))" } ?? "no")</td></tr>\n"
        }
        body += "</tbody>\n</table>\n<p class=\"note\">\(sessions.count) session\(sessions.count == 1 ? "" : "s"), newest first.</p>\n"
        return page(title: "Sessions", body: body, viewer: viewer)
    }

    /// The live sessions the viewer may watch, each linking to its live page; nothing when none.
    static func liveSection(_ live: [SessionBroadcast.Info]) -> String {
        guard !live.isEmpty else { return "" }
        var body = "<h1>Live sessions</h1>\n<table class=\"live\">\n"
        body += "<thead><tr><th>ID</th><th>User</th><th>Login@target</th><th>Start (UTC)</th><th>Grant</th></tr></thead>\n<tbody>\n"
        for info in live {
            body += "<tr><td><a href=\"/live/\(escape(info.id.rawValue))\">\(escape(info.id.rawValue))</a></td><td>\(escape(info.user))</td>"
            body += "<td>\(escape(info.login))@\(escape(info.target))</td><td>\(escape(time(info.startedAt)))</td>"
            body += "<td>\(escape(info.grantID?.rawValue ?? "-"))</td></tr>\n"
        }
        return body + "</tbody>\n</table>\n"
    }

    /// A live session's page: `player-page.js` starts the player on `/live/ID/events`.
    static func live(_ info: SessionBroadcast.Info, viewer: String) -> String {
        let id = escape(info.id.rawValue)
        var body = "<p><a href=\"/sessions\">← all sessions</a></p>\n<h1>Live session \(id)</h1>\n"
        let rows: [(String, String)] = [
            ("User", info.user), ("Login@target", "\(info.login)@\(info.target)"), ("Start (UTC)", time(info.startedAt)),
            ("Elevated", info.grantID.map { "yes (grant \($0))" } ?? "no"),
        ]
        body += "<table class=\"facts\">\n" + rows.map { "<tr><th>\(escape($0.0))</th><td>\(escape($0.1))</td></tr>" }.joined(separator: "\n") + "\n</table>\n"
        body += "<div id=\"live\" data-stream=\"/live/\(id)/events\"></div>\n"
        body += "<p class=\"note\">Read-only and audited; the user is told who watches. Closing this page ends the watch.</p>\n"
        return page(
            title: "Live session \(info.id)", body: body, viewer: viewer,
            head: playerHead
        )
    }

    /// A marker (`"m"` event): seconds into the recording, and its label.
    struct Marker: Equatable {
        var time: Double
        var label: String
    }

    /// The `"m"` events of an asciicast v2 file, and the time of its last event (where the
    /// player's poster shows the screen as the session left it).
    static func markers(in data: Data) -> ([Marker], Double) {
        var markers: [Marker] = []
        var length = 0.0
        for line in data.split(separator: UInt8(ascii: "\n")).dropFirst() {
            guard let event = try? JSONSerialization.jsonObject(with: Data(line)) as? [Any], event.count == 3,
                let time = (event[0] as? NSNumber)?.doubleValue, let kind = event[1] as? String
            else { continue }
            length = max(length, time)
            if kind == "m" { markers.append(.init(time: time, label: String((event[2] as? String ?? "").prefix(200)))) }
        }
        return (markers, length)
    }

    static func player(_ session: IndexedSession, markers: [Marker], length: Double, files: [SessionFileOperation] = [], viewer: String) -> String {
        var body = "<p><a href=\"/sessions\">← all sessions</a></p>\n<h1>Session \(escape(session.id.rawValue))</h1>\n"
        body += facts(session)
        let markerJSON = (try? JSONSerialization.data(withJSONObject: markers.map { [$0.time, $0.label] as [Any] })).flatMap {
            String(data: $0, encoding: .utf8)
        } ?? "[]"
        // The poster is the screen a second after the last event (at the last event's own time
        // the player has not drawn that event yet): the frame as the session left it.
        body += """
            <div id="player" data-cast="/sessions/\(escape(session.id.rawValue))/cast" data-markers="\(escape(markerJSON))" data-poster="npt:\(String(format: "%.3f", length + 1))"></div>
            <p class="note">The recording matched its audit record when this page was made; the player's file is checked again.
            <a href="/sessions/\(escape(session.id.rawValue))/cast" download="\(escape(session.id.rawValue)).cast">Download the .cast file</a></p>

            """
        body += "<h2>Markers</h2>\n"
        if markers.isEmpty {
            body += "<p>No markers in this recording.</p>\n"
        } else {
            body += "<ol class=\"markers\">\n"
            for marker in markers {
                let time = String(format: "%.3f", marker.time)
                body += "<li><a href=\"#t=\(time)\" data-seek=\"\(time)\">\(escape(clock(marker.time)))</a> \(escape(marker.label.isEmpty ? "(marker)" : marker.label))</li>\n"
            }
            body += "</ol>\n"
        }
        if !files.isEmpty {
            body += "<h2>File transfers</h2>\n<table class=\"files\">\n<tr><th>Time (UTC)</th><th>Operation</th><th>Path</th><th>Details</th></tr>\n"
            for file in files {
                var rest = file.summary
                for prefix in [file.type, file.path] where rest.hasPrefix(prefix) { rest = String(rest.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces) }
                let row = [time(file.time), file.type, file.path, rest].map { "<td>\(escape($0))</td>" }.joined()
                body += "<tr\(file.succeeded ? "" : " class=\"refused\"")>\(row)</tr>\n"
            }
            body += "</table>\n"
        }
        return page(
            title: "Session \(session.id)", body: body, viewer: viewer,
            head: playerHead
        )
    }

    static func refusedRecording(_ session: IndexedSession, reason: String, viewer: String) -> String {
        var body = "<p><a href=\"/sessions\">← all sessions</a></p>\n<h1>Session \(escape(session.id.rawValue)): replay refused</h1>\n"
        body += "<p class=\"error\">\(escape(reason)).</p>\n"
        body += "<p>The recording is not shown: it is not the one its audit record describes. This refusal has been audited.</p>\n"
        return page(title: "Replay refused", body: body + facts(session), viewer: viewer)
    }

    /// Where people land without a session: how to get a link.
    static func signInHelp(sshPort: Int, host: String) -> String {
        let port = sshPort == 0 ? "PORT" : String(sshPort)
        return page(title: "Sign in", body: """
            <h1>Sign in to Bastion's session archive</h1>
            <p>The web view is for auditors. Ask Bastion for a single-use sign-in link over SSH:</p>
            <pre>ssh -p \(escape(port)) you@\(escape(host)) web</pre>
            <p>Open the link it prints within a minute; it works once.</p>

            """, viewer: nil)
    }

    static func message(_ headline: String, detail: String, viewer: String? = nil) -> String {
        page(title: headline, body: "<h1>\(escape(headline))</h1>\n<p>\(escape(detail))</p>\n<p><a href=\"/signin\">How to sign in</a></p>\n", viewer: viewer)
    }

    private static func facts(_ session: IndexedSession) -> String {
        let rows: [(String, String)] = [
            ("User", session.user), ("Login@target", "\(session.login)@\(session.target)"), ("From", session.sourceAddress),
            ("Start (UTC)", time(session.startedAt)), ("Duration", DurationText.format(max(0, session.duration.rounded(.down)))),
            ("Exit", session.exitStatus ?? "-"), ("Ended", session.endReason), ("Size", size(session.recordingSize)),
            ("Elevated", session.elevationRequest.map { "yes (request \($0))" } ?? "no"), ("SHA-256", session.recordingSHA256 ?? "-"),
        ]
        return "<table class=\"facts\">\n" + rows.map { "<tr><th>\(escape($0.0))</th><td>\(escape($0.1))</td></tr>" }.joined(separator: "\n") + "\n</table>\n"
    }

    /// UTC, to the second, without the zone letter (the column says UTC); as `sessions` prints it.
    static func time(_ date: Date) -> String {
        var style = Date.ISO8601FormatStyle()
        style.timeZone = TimeZone(identifier: "UTC")!
        return String(date.formatted(style).dropLast())
    }

    static func size(_ bytes: Int) -> String {
        switch bytes {
        case ..<1_024: "\(bytes) B"
        case ..<(1_024 * 1_024): String(format: "%.1f KiB", Double(bytes) / 1_024)
        default: String(format: "%.1f MiB", Double(bytes) / 1_048_576)
        }
    }

    /// `HH:MM:SS` into the recording.
    static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded(.down))
        return String(format: "%02d:%02d:%02d", total / 3_600, total / 60 % 60, total % 60)
    }

    /// The asciinema player's stylesheet and scripts, for the recorded and the live player pages.
    private static let playerHead = """
        <link rel="stylesheet" href="/assets/asciinema-player.css">
        <script src="/assets/asciinema-player.js" defer></script>
        <script src="/assets/player-page.js" defer></script>
        """

    private static func page(title: String, body: String, viewer: String?, head: String = "") -> String {
        let bar = viewer.map {
            """
            <header><a href="/sessions">Sessions</a><span>signed in as <b>\(escape($0))</b></span>
            <form method="post" action="/signout"><button>Sign out</button></form></header>

            """
        } ?? ""
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Bastion: \(escape(title))</title>
            \(head)
            <style>
            body{font-family:system-ui,sans-serif;max-width:72em;margin:0 auto;padding:0 1em 2em;color:#1b1f24;background:#f6f8fa}
            header{display:flex;gap:1em;align-items:center;padding:.6em 0;border-bottom:1px solid #d0d7de;margin-bottom:1em}
            header span{margin-left:auto}header form{margin:0}
            h1{font-size:1.4em}h2{font-size:1.1em}table{border-collapse:collapse;margin:1em 0;background:#fff}
            th,td{text-align:left;padding:.35em .7em;border:1px solid #d0d7de;font-size:.95em}
            .filter{display:flex;flex-wrap:wrap;gap:.6em;align-items:end}.filter label{display:flex;flex-direction:column;font-size:.9em}
            input{font-size:1em;padding:.3em}button{font-size:1em;padding:.4em 1em;background:#1f883d;color:#fff;border:0;border-radius:4px}
            header button{background:#57606a}.error{color:#cf222e;font-weight:bold}.note{color:#57606a;font-size:.9em}
            pre{background:#fff;border:1px solid #d0d7de;padding:.6em}#player,#live{margin:1em 0;min-height:10em}
            </style></head>
            <body>
            \(bar)\(body)</body></html>

            """
    }

    static func escape(_ text: String) -> String { ApprovalPage.escape(text) }
}
