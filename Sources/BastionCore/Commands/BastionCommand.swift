public import Foundation

/// A command a user sends to Bastion itself (`ssh -p 2222 alice@bastion COMMAND`).
public enum BastionCommand: Sendable, Equatable {
    /// No command (`ssh -t alice@bastion`): the menu, for now the same as `whoami`.
    case menu
    case whoami
    case targets
    case cert(ttl: TimeInterval?)
    case help

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Parses an exec request's command line. Arguments are split on whitespace; Bastion's
    /// commands take no quoted values yet.
    public init(commandLine: String?) throws(ParseError) {
        let words = (commandLine ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
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
        default:
            throw ParseError(message: "unknown command '\(name)'; try 'help'")
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
        case .cert: "cert"
        case .help: "help"
        }
    }
}
