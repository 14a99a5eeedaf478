import ArgumentParser
import Foundation

@main
struct Bastiond: AsyncParsableCommand {
    /// Everything bastiond creates (database, WAL, keys, recordings) is private to its
    /// user unless a file says otherwise.
    static func main() async {
        umask(0o077)
        await Self.main(nil)
    }

    static let configuration = CommandConfiguration(
        commandName: "bastiond",
        abstract: "Bastion: a hardened SSH bastion and privileged-access broker.",
        subcommands: [
            Serve.self, UserCommand.self, CAShow.Group.self, TargetCommand.self, SessionCommand.self, AuditCommand.self,
            RetentionCommand.self, SIEMCommand.self, ElevationCommand.self, ReplayCommand.self, MigrateCommand.self, ConfigCommand.self,
            KeysCommand.self,
        ]
    )
}

/// `--config FILE`, shared by every subcommand.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Configuration file (TOML).")
    var config: String = "Config/bastiond.toml"
}
