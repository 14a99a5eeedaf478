import ArgumentParser
import BastionApp
import BastionCore
import Foundation

/// `bastiond config check`: validates a file exactly as `serve` and a reload would, without
/// touching a daemon or its data (for the CI of the repository the policy lives in).
struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "The configuration file.", subcommands: [Check.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a configuration file (exit 0 valid, 1 invalid); reads nothing else."
        )
        @OptionGroup var options: ConfigOption

        func run() throws {
            let configuration: BastionConfiguration
            do {
                configuration = try BastionConfiguration.load(file: options.config)
            } catch {
                FileHandle.standardError.write(Data("bastiond: invalid configuration: \(error)\n".utf8))
                throw ExitCode(1)
            }
            for notice in configuration.ssh.notices { print("note: \(notice)") }
            let policy = configuration.policy
            print("\(options.config): valid (\(Self.count(policy.roles.count, "role")), \(Self.count(policy.targets.count, "target")))")
        }
    }
}

extension ConfigCommand.Check {
    static func count(_ number: Int, _ noun: String) -> String { "\(number) \(noun)\(number == 1 ? "" : "s")" }
}
