import ArgumentParser
import BastionApp
import BastionCore
import Foundation

/// `bastiond user …`: enrolment and account state, audited, safe while the daemon runs.
struct UserCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Manage users (stored in the database; roles come from the config file).",
        subcommands: [Add.self, List.self, Remove.self, Lock.self, Unlock.self, ResetTOTP.self, AddKey.self]
    )

    static func administration(_ options: ConfigOption) throws -> UserAdministration {
        try Startup.open(options.config).administration(administrator: BastionEnvironment.operatingSystemUser)
    }

    static func attempt<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let failure as UserAdministration.Failure {
            throw Refusal(message: failure.message)
        }
    }

    static func printEnrollment(_ enrollment: UserAdministration.Enrollment, headline: String) {
        print(headline)
        print("Scan this code with an authenticator app, or enter the secret by hand:")
        print(enrollment.uri)
        if let qr = TerminalQRCode.render(enrollment.uri) { print(qr, terminator: "") }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enroll a user with a public key; prints the TOTP enrollment.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "User name (a-z 0-9 _ . -, at most 32).") var name: String
        @Option(help: "Public key, as in authorized_keys: \"ssh-ed25519 AAAA… comment\".") var key: String
        @Option(name: .customLong("role"), help: "A role from the config file (repeatable).") var roles: [String] = []

        func run() throws {
            let admin = try UserCommand.administration(options)
            let enrollment = try UserCommand.attempt { try admin.addUser(name: name, key: key, roles: roles) }
            UserCommand.printEnrollment(enrollment, headline: "Added user \(enrollment.user).")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users, roles, state and keys.")
        @OptionGroup var options: ConfigOption

        func run() throws {
            let admin = try UserCommand.administration(options)
            let summaries = try UserCommand.attempt { try admin.listUsers() }
            let now = Date()
            print("NAME".padding(toLength: 20, withPad: " ", startingAt: 0) + "STATE".padding(toLength: 24, withPad: " ", startingAt: 0) + "ROLES".padding(toLength: 24, withPad: " ", startingAt: 0) + "KEYS")
            for summary in summaries {
                var state = summary.user.isLocked ? "locked" : "active"
                if let until = summary.lockedOutUntil, until > now { state = "locked out \(Int(until.timeIntervalSince(now) / 60) + 1)m" }
                let roles = summary.user.roles.isEmpty ? "-" : summary.user.roles.joined(separator: ",")
                let keys = summary.keys.map { "\($0.displayType) \($0.fingerprint)" }.joined(separator: ", ")
                print(summary.user.name.rawValue.padding(toLength: 20, withPad: " ", startingAt: 0) + state.padding(toLength: 24, withPad: " ", startingAt: 0) + roles.padding(toLength: 24, withPad: " ", startingAt: 0) + keys)
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a user and their keys.")
        @OptionGroup var options: ConfigOption
        @Argument var name: String
        func run() throws {
            let admin = try UserCommand.administration(options)
            try UserCommand.attempt { try admin.removeUser(name: name) }
            print("Removed user \(name).")
        }
    }

    struct Lock: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Refuse every login of a user until unlocked.")
        @OptionGroup var options: ConfigOption
        @Argument var name: String
        func run() throws {
            let admin = try UserCommand.administration(options)
            try UserCommand.attempt { try admin.lockUser(name: name) }
            print("Locked user \(name).")
        }
    }

    struct Unlock: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lift a lock and any TOTP lockout.")
        @OptionGroup var options: ConfigOption
        @Argument var name: String
        func run() throws {
            let admin = try UserCommand.administration(options)
            try UserCommand.attempt { try admin.unlockUser(name: name) }
            print("Unlocked user \(name).")
        }
    }

    struct ResetTOTP: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "reset-totp", abstract: "Issue a new TOTP secret; the old one stops working.")
        @OptionGroup var options: ConfigOption
        @Argument var name: String
        func run() throws {
            let admin = try UserCommand.administration(options)
            let enrollment = try UserCommand.attempt { try admin.resetTOTP(name: name) }
            UserCommand.printEnrollment(enrollment, headline: "New TOTP secret for \(enrollment.user).")
        }
    }

    struct AddKey: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-key", abstract: "Enroll another public key for a user.")
        @OptionGroup var options: ConfigOption
        @Argument var name: String
        @Option(help: "Public key, as in authorized_keys.") var key: String
        func run() throws {
            let admin = try UserCommand.administration(options)
            try UserCommand.attempt { try admin.addKey(name: name, key: key) }
            print("Added key for \(name).")
        }
    }
}
