import ArgumentParser
import BastionApp
import BastionCore
import Foundation

extension KeysCommand {
    /// `keys rotate`: the next master key version now, then the re-wrap of every data key.
    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the next master key version current and re-wrap every data key under it (audited)."
        )
        @OptionGroup var options: ConfigOption

        func run() throws {
            let environment = try Startup.open(options.config)
            let rotation = MasterKeyRotation(environment: environment, actor: AuditCommand.auditor)
            let version: UInt32
            do { version = try rotation.rotate() } catch { throw Refusal(message: "keys rotate: \(error)") }
            let report = try rotation.rewrap()
            print("master key version \(version) is current; re-wrapped \(report.secrets) sealed secrets and \(report.recordings) recordings")
            for failure in report.failed { print("not re-wrapped: \(failure)") }
            if !report.failed.isEmpty { throw ExitCode(1) }
        }
    }

    /// `keys retire`: destroys what `keys.retire_after` allows now (the daemon does it hourly).
    struct Retire: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Destroy decrypt-only master key versions past keys.retire_after that nothing references (audited)."
        )
        @OptionGroup var options: ConfigOption

        func run() throws {
            let environment = try Startup.open(options.config)
            let destroyed = try MasterKeyRotation(environment: environment, actor: AuditCommand.auditor).retire()
            print(destroyed.isEmpty ? "nothing to destroy" : "destroyed master key version(s) \(destroyed.map(String.init).joined(separator: ", "))")
        }
    }
}
