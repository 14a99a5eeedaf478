public import Foundation

/// A command a user sends to Bastion itself (`ssh -p 2222 alice@bastion COMMAND`).
public enum BastionCommand: Sendable, Equatable {
    /// No command (`ssh -t alice@bastion`): the menu, for now the same as `whoami`.
    case menu
    case whoami
    case targets
    /// `ssh-config`: a `Host` block per reachable target, through `ssh -J`.
    case sshConfig
    case cert(ttl: TimeInterval?)
    case help
    /// `elevate TARGET --reason TEXT [--login L] [--for DURATION] [--no-wait]`
    case elevate(ElevationAsk)
    /// `elevate --drop ID`
    case drop(id: ElevationID)
    /// `requests [--pending]`
    case requests(pending: Bool)
    /// `approve ID [--comment TEXT]` / `deny ID --reason TEXT`
    case decide(id: ElevationID, approve: Bool, comment: String)
    /// `sessions …` (auditors)
    case sessions(SessionsAsk)
    /// `replay ID …` (auditors)
    case replay(ReplayAsk)
    /// `web` (auditors): a single-use sign-in link for the web view
    case web
    /// `watch ID [--terminate --reason TEXT]` (auditors, the approvers of the session's grant)
    case watch(WatchAsk)
    /// `watch` alone: the live sessions the user may watch
    case liveSessions

    /// What `elevate` asks for.
    public struct ElevationAsk: Sendable, Equatable {
        public var target: String
        public var reason: String
        public var login: String?
        public var duration: TimeInterval?
        public var wait: Bool

        public init(target: String, reason: String, login: String?, duration: TimeInterval?, wait: Bool) {
            self.target = target
            self.reason = reason
            self.login = login
            self.duration = duration
            self.wait = wait
        }
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Parses an exec request's command line: shell-like words (see ``CommandWords``).
    public init(commandLine: String?) throws(ParseError) {
        let words: [String]
        do { words = try CommandWords.split(commandLine ?? "") } catch {
            throw ParseError(message: "unbalanced quote in the command line")
        }
        guard let name = words.first else {
            self = .menu
            return
        }
        let arguments = Array(words.dropFirst())
        switch name {
        case "whoami":
            try Self.expectNoArguments(arguments, command: name)
            self = .whoami
        case "help":
            self = .help
        case "targets":
            try Self.expectNoArguments(arguments, command: name)
            self = .targets
        case "ssh-config":
            try Self.expectNoArguments(arguments, command: name)
            self = .sshConfig
        case "cert":
            var ttl: TimeInterval?
            var rest = arguments[...]
            while let argument = rest.popFirst() {
                let value: String
                if argument == "--ttl" {
                    guard let next = rest.popFirst() else { throw ParseError(message: "cert: --ttl needs a duration, e.g. --ttl 1h") }
                    value = next
                } else if argument.hasPrefix("--ttl=") {
                    value = String(argument.dropFirst("--ttl=".count))
                } else {
                    throw ParseError(message: "cert: unknown argument '\(argument)' (usage: cert [--ttl DURATION])")
                }
                do { ttl = try DurationText.parse(value) } catch {
                    throw ParseError(message: "cert: invalid --ttl '\(value)': \(error)")
                }
            }
            self = .cert(ttl: ttl)
        case "elevate":
            self = try Self.parseElevate(arguments)
        case "requests":
            guard arguments.isEmpty || arguments == ["--pending"] else {
                throw ParseError(message: "requests: unknown argument (usage: requests [--pending])")
            }
            self = .requests(pending: arguments == ["--pending"])
        case "approve", "deny":
            self = try Self.parseDecision(name, arguments)
        case "sessions":
            self = try Self.parseSessions(arguments)
        case "replay":
            self = try Self.parseReplay(arguments)
        case "web":
            try Self.expectNoArguments(arguments, command: name)
            self = .web
        case "watch":
            self = try Self.parseWatch(arguments)
        default:
            throw ParseError(message: "unknown command '\(name)'; try 'help'")
        }
    }

    private static func parseElevate(_ arguments: [String]) throws(ParseError) -> BastionCommand {
        let usage = "usage: elevate TARGET --reason TEXT [--login LOGIN] [--for DURATION] [--no-wait] | elevate --drop ID"
        var options = try Options(arguments, command: "elevate", flags: ["--no-wait"], values: ["--login", "--for", "--drop"], text: ["--reason"], usage: usage)
        if let id = options.values["--drop"] {
            guard options.positional.isEmpty, options.values.count == 1, options.text.isEmpty, options.flags.isEmpty else {
                throw ParseError(message: "elevate: --drop takes only a request id (\(usage))")
            }
            return .drop(id: ElevationID(rawValue: id))
        }
        guard options.positional.count == 1, let target = options.positional.first else {
            throw ParseError(message: "elevate: name one target (\(usage))")
        }
        guard let reason = options.text["--reason"], !reason.isEmpty else {
            throw ParseError(message: "elevate: a reason is required: --reason \"why you need it\"")
        }
        var duration: TimeInterval?
        if let text = options.values.removeValue(forKey: "--for") {
            do { duration = try DurationText.parse(text) } catch { throw ParseError(message: "elevate: invalid --for '\(text)': \(error)") }
        }
        return .elevate(ElevationAsk(
            target: target, reason: reason, login: options.values["--login"], duration: duration, wait: !options.flags.contains("--no-wait")
        ))
    }

    private static func parseDecision(_ name: String, _ arguments: [String]) throws(ParseError) -> BastionCommand {
        let approve = name == "approve"
        let usage = approve ? "usage: approve ID [--comment TEXT]" : "usage: deny ID --reason TEXT"
        let options = try Options(arguments, command: name, flags: [], values: [], text: ["--comment", "--reason"], usage: usage)
        guard options.positional.count == 1, let id = options.positional.first else { throw ParseError(message: "\(name): name one request id (\(usage))") }
        let comment = options.text["--reason"] ?? options.text["--comment"] ?? ""
        if !approve, comment.isEmpty { throw ParseError(message: "deny: a reason is required: --reason \"why not\"") }
        return .decide(id: ElevationID(rawValue: id), approve: approve, comment: comment)
    }

    /// Options of the elevation commands: flags, `--name VALUE` (or `--name=VALUE`), and
    /// free-text options that take every word up to the next `--option`.
    struct Options {
        var positional: [String] = []
        var flags: Set<String> = []
        var values: [String: String] = [:]
        var text: [String: String] = [:]

        init(_ arguments: [String], command: String, flags: Set<String>, values: Set<String>, text: Set<String>, usage: String) throws(ParseError) {
            var rest = arguments[...]
            while let word = rest.popFirst() {
                var name = word
                var inline: String?
                if word.hasPrefix("--"), let equals = word.firstIndex(of: "=") {
                    name = String(word[..<equals])
                    inline = String(word[word.index(after: equals)...])
                }
                if flags.contains(name), inline == nil {
                    self.flags.insert(name)
                } else if values.contains(name) {
                    guard let value = inline ?? rest.popFirst(), !value.hasPrefix("--") else {
                        throw ParseError(message: "\(command): \(name) needs a value (\(usage))")
                    }
                    self.values[name] = value
                } else if text.contains(name) {
                    var words = inline.map { [$0] } ?? []
                    while let next = rest.first, !next.hasPrefix("--") {
                        words.append(next)
                        rest = rest.dropFirst()
                    }
                    self.text[name] = words.joined(separator: " ").trimmingCharacters(in: .whitespaces)
                } else if word.hasPrefix("-") {
                    throw ParseError(message: "\(command): unknown option '\(word)' (\(usage))")
                } else {
                    positional.append(word)
                }
            }
        }
    }

    private static func expectNoArguments(_ arguments: [String], command: String) throws(ParseError) {
        guard arguments.isEmpty else { throw ParseError(message: "\(command): takes no arguments") }
    }

    /// The name recorded in the audit log.
    public var auditName: String {
        switch self {
        case .menu: "menu"
        case .whoami: "whoami"
        case .targets: "targets"
        case .sshConfig: "ssh-config"
        case .cert: "cert"
        case .help: "help"
        case .elevate: "elevate"
        case .drop: "elevate --drop"
        case .requests: "requests"
        case .decide(_, let approve, _): approve ? "approve" : "deny"
        case .sessions: "sessions"
        case .replay(let ask): ask.raw ? "replay --raw" : "replay"
        case .web: "web"
        case .watch(let ask): ask.termination == nil ? "watch" : "watch --terminate"
        case .liveSessions: "watch (list)"
        }
    }
}
