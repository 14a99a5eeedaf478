import ArgumentParser
import Foundation

@main
struct Bastiond: AsyncParsableCommand {
    /// Everything bastiond creates (database, WAL, keys, recordings) is private to its
    /// user unless a file says otherwise.
    static func main() async {
        umask(0o077)
        do {
            var command = try parseAsRoot(nil)
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch let refusal as Refusal {
            // One line, and the exit status the refusal names (78, EX_CONFIG, when bastiond
            // cannot start: systemd's RestartPreventExitStatus and scripts can tell it apart).
            FileHandle.standardError.write(Data("bastiond: \(refusal.message)\n".utf8))
            Foundation.exit(refusal.exitStatus)
        } catch {
            exit(withError: error)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "bastiond",
        abstract: "Bastion: a hardened SSH bastion and privileged-access broker.",
        subcommands: [
            Serve.self, UserCommand.self, CAShow.Group.self, TargetCommand.self, SessionCommand.self, AuditCommand.self,
            RetentionCommand.self, SIEMCommand.self, ElevationCommand.self, ReplayCommand.self, MigrateCommand.self, ConfigCommand.self,
            KeysCommand.self, RecordingCommand.self, BackupCommand.self,
        ]
    )
}

/// `--config FILE`, shared by every subcommand.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Configuration file (TOML).")
    var config: String = "Config/bastiond.toml"
}
