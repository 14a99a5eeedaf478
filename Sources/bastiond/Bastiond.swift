import ArgumentParser

@main
struct Bastiond: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bastiond",
        abstract: "Bastion: a hardened SSH bastion and privileged-access broker.",
        subcommands: [Serve.self, UserCommand.self, CAShow.Group.self]
    )
}

/// `--config FILE`, shared by every subcommand.
struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "Configuration file (TOML).")
    var config: String = "Config/bastiond.toml"
}
