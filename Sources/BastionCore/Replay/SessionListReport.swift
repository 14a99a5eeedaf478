import Foundation

/// The text of `sessions`: one ended session a line, newest first.
struct SessionListReport {
    var sessions: [IndexedSession]
    /// The words searched for, when `--grep` was given (every listed session printed them).
    var grep: String?
    /// The `file.*` records of listed sessions, shown under each (SFTP and scp).
    var files: [SessionID: [SessionFileOperation]] = [:]
    /// File operations shown per session; the rest are counted.
    static let filesShown = 20

    var text: String {
        guard !sessions.isEmpty else { return grep == nil ? "no sessions\n" : "no session printed \"\(grep ?? "")\"\n" }
        var lines = [
            "ID                USER          LOGIN@TARGET              START (UTC)           DURATION  EXIT        SIZE      ELEVATED"
                + (grep == nil ? "" : "  MATCH")
        ]
        for session in sessions {
            var line = session.id.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0)
            line += session.user.padding(toLength: 14, withPad: " ", startingAt: 0)
            line += "\(session.login)@\(session.target)".padding(toLength: 26, withPad: " ", startingAt: 0)
            line += Self.time(session.startedAt).padding(toLength: 22, withPad: " ", startingAt: 0)
            line += DurationText.format(max(0, session.duration.rounded(.down))).padding(toLength: 10, withPad: " ", startingAt: 0)
            line += (session.exitStatus ?? "-").padding(toLength: 12, withPad: " ", startingAt: 0)
            line += Self.size(session.recordingSize).padding(toLength: 10, withPad: " ", startingAt: 0)
            line += session.elevationRequest.map { "yes (\($0))" } ?? "no"
            if grep != nil { line = line.padding(toLength: max(line.count, 150), withPad: " ", startingAt: 0) + "  yes" }
            lines.append(line)
            let operations = files[session.id] ?? []
            for operation in operations.prefix(Self.filesShown) { lines.append("    " + operation.summary) }
            if operations.count > Self.filesShown {
                lines.append("    … and \(operations.count - Self.filesShown) more: bastiond audit search --type 'file.*' --session \(session.id)")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func time(_ date: Date) -> String {
        var style = Date.ISO8601FormatStyle()
        style.timeZone = TimeZone(identifier: "UTC")!
        return String(date.formatted(style).dropLast())  // without the Z; the header says UTC
    }

    static func size(_ bytes: Int) -> String {
        switch bytes {
        case ..<1_024: "\(bytes) B"
        case ..<(1_024 * 1_024): String(format: "%.1f KiB", Double(bytes) / 1_024)
        default: String(format: "%.1f MiB", Double(bytes) / 1_048_576)
        }
    }
}
