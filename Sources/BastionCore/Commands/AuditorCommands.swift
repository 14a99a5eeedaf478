public import Foundation

extension BastionCommand {
    /// `sessions [--user U] [--target T] [--since …] [--until …] [--grep TEXT]`. Times stay
    /// text until the router resolves them against its clock.
    public struct SessionsAsk: Sendable, Equatable {
        public var user: String?
        public var target: String?
        public var since: String?
        public var until: String?
        public var grep: String?

        public init(user: String? = nil, target: String? = nil, since: String? = nil, until: String? = nil, grep: String? = nil) {
            self.user = user
            self.target = target
            self.since = since
            self.until = until
            self.grep = grep
        }
    }

    /// `replay ID [--speed N] [--idle-limit SECONDS] [--from HH:MM:SS] [--raw] [--force]`.
    public struct ReplayAsk: Sendable, Equatable {
        public var id: SessionID
        public var speed: Double
        public var idleLimit: Double?
        /// Seconds into the recording to start at.
        public var from: Double
        /// Stream the `.cast` file itself, byte for byte.
        public var raw: Bool
        /// Play even when the recording does not match its audit record (audited).
        public var force: Bool

        public init(id: SessionID, speed: Double = 1, idleLimit: Double? = nil, from: Double = 0, raw: Bool = false, force: Bool = false) {
            self.id = id
            self.speed = speed
            self.idleLimit = idleLimit
            self.from = from
            self.raw = raw
            self.force = force
        }
    }

    /// `watch ID` follows a live session; `watch ID --terminate --reason TEXT` ends it.
    public struct WatchAsk: Sendable, Equatable {
        public var id: SessionID
        /// The reason given with `--terminate`; nil: watch.
        public var termination: String?

        public init(id: SessionID, termination: String? = nil) {
            self.id = id
            self.termination = termination
        }
    }

    static func parseSessions(_ arguments: [String]) throws(ParseError) -> BastionCommand {
        let usage = "usage: sessions [--user U] [--target T] [--since TIME] [--until TIME] [--grep TEXT]"
        let options = try Options(arguments, command: "sessions", flags: [], values: ["--user", "--target", "--since", "--until"], text: ["--grep"], usage: usage)
        guard options.positional.isEmpty else { throw ParseError(message: "sessions: unexpected '\(options.positional[0])' (\(usage))") }
        if let grep = options.text["--grep"], grep.isEmpty { throw ParseError(message: "sessions: --grep needs words to search for") }
        return .sessions(SessionsAsk(
            user: options.values["--user"], target: options.values["--target"], since: options.values["--since"], until: options.values["--until"],
            grep: options.text["--grep"]
        ))
    }

    static func parseReplay(_ arguments: [String]) throws(ParseError) -> BastionCommand {
        let usage = "usage: replay ID [--speed N] [--idle-limit SECONDS] [--from HH:MM:SS] [--raw] [--force]"
        let options = try Options(arguments, command: "replay", flags: ["--raw", "--force"], values: ["--speed", "--idle-limit", "--from"], text: [], usage: usage)
        guard options.positional.count == 1, let id = options.positional.first else { throw ParseError(message: "replay: name one session id (\(usage))") }
        var ask = ReplayAsk(id: SessionID(rawValue: id), raw: options.flags.contains("--raw"), force: options.flags.contains("--force"))
        if let text = options.values["--speed"] {
            guard let speed = Double(text), speed > 0, speed <= 100 else { throw ParseError(message: "replay: --speed must be a number above 0, at most 100") }
            ask.speed = speed
        }
        if let text = options.values["--idle-limit"] {
            guard let limit = Double(text), limit > 0 else { throw ParseError(message: "replay: --idle-limit must be a number of seconds above 0") }
            ask.idleLimit = limit
        }
        if let text = options.values["--from"] {
            guard let from = Self.clockTime(text) else { throw ParseError(message: "replay: --from must be HH:MM:SS, MM:SS or seconds") }
            ask.from = from
        }
        return .replay(ask)
    }

    static func parseWatch(_ arguments: [String]) throws(ParseError) -> BastionCommand {
        let usage = "usage: watch ID [--terminate --reason TEXT]"
        if arguments.isEmpty { return .liveSessions }
        let options = try Options(arguments, command: "watch", flags: ["--terminate"], values: [], text: ["--reason"], usage: usage)
        guard options.positional.count == 1, let id = options.positional.first else { throw ParseError(message: "watch: name one session id (\(usage))") }
        guard options.flags.contains("--terminate") else {
            guard options.text["--reason"] == nil else { throw ParseError(message: "watch: --reason goes with --terminate (\(usage))") }
            return .watch(WatchAsk(id: SessionID(rawValue: id)))
        }
        guard let reason = options.text["--reason"], !reason.isEmpty else {
            throw ParseError(message: "watch: --terminate needs a reason: --reason \"why\" (the user is shown it)")
        }
        // Shown on the watched user's terminal: no control characters (escape sequences).
        let printable = String(String.UnicodeScalarView(reason.unicodeScalars.map { $0.properties.generalCategory == .control ? " " : $0 }))
        return .watch(WatchAsk(id: SessionID(rawValue: id), termination: String(printable.prefix(200))))
    }

    /// `00:03:10`, `3:10` or `190` (seconds).
    public static func clockTime(_ text: String) -> Double? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count) else { return nil }
        var total = 0.0
        for (index, part) in parts.enumerated() {
            guard let value = Double(part), value >= 0, index == parts.count - 1 || value == value.rounded() else { return nil }
            if index > 0, value >= 60 { return nil }
            total = total * 60 + value
        }
        return total
    }
}

/// Times as auditors type them: `7d` (that long ago), `2026-11-01`, or an RFC 3339 instant.
public enum TimeBound {
    public static func parse(_ text: String, now: Date) -> Date? {
        if let duration = try? DurationText.parse(text) { return now.addingTimeInterval(-duration) }
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }
        // A bare day (the parser would also take a longer text's first ten characters).
        guard text.utf8.count == 10 else { return nil }
        var day = Date.ISO8601FormatStyle().year().month().day()
        day.timeZone = TimeZone(identifier: "UTC")!
        return try? day.parse(text)
    }
}
