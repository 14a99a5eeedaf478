import ArgumentParser
import BastionApp
import BastionCore
import Foundation

/// `bastiond keys`: where Bastion's keys live (docs/keys.md).
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Bastion's keys and the provider that holds them.", subcommands: [Initialise.self, List.self, Rotate.self, Retire.self, RotateAudit.self]
    )

    /// `keys init`: makes the keys a provider lacks. With `pkcs11` this is the only step that
    /// creates keys in the token; `serve` refuses a token without them rather than making
    /// keys in a token it may have been pointed at by mistake.
    struct Initialise: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "init", abstract: "Create the keys the configured provider lacks (never replaces one)."
        )
        @OptionGroup var options: ConfigOption

        func run() throws {
            let configuration = try Startup.loadConfiguration(options.config)
            var inToken: [String] = []
            if configuration.keys.provider == .pkcs11 {
                do {
                    inToken = try TokenKeys.initialise(configuration.keys, dataDirectory: configuration.server.dataDirectory)
                } catch {
                    throw Refusal(message: "keys init: \(error)")
                }
            }
            // Opening creates (and audits) whatever files the provider keeps on disk.
            var files: [String] = []
            let environment = try Startup.openEnvironment(configuration) { files.append($0) }
            for name in inToken {
                try environment.auditLog.append(AuditEvent(
                    type: .keyCreate, time: environment.clock.now(),
                    actor: .init(user: BastionEnvironment.operatingSystemUser, method: "bastiond"), target: name
                ))
            }
            for name in inToken + files { print("created \(name)") }
            if inToken.isEmpty, files.isEmpty { print("every key exists (\(configuration.keys.provider.rawValue) provider)") }
        }
    }

    /// `keys list`: each key, where it lives and its fingerprint (never the key).
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List Bastion's keys and where each lives.")
        @OptionGroup var options: ConfigOption

        func run() throws {
            let environment = try Startup.open(options.config)
            for line in KeyInventory(environment.keys, configuration: environment.configuration).lines { print(line) }
            let rotation = MasterKeyRotation(environment: environment, actor: AuditCommand.auditor)
            let references = try rotation.references()
            print("")
            print("master key versions (rotate every \(DurationText.format(environment.configuration.keys.rotateEvery)), destroy \(DurationText.format(environment.configuration.keys.retireAfter)) after)")
            for line in KeyInventory.versionLines(try rotation.schedule(), references: references, keys: environment.keys) { print(line) }
        }
    }
}
