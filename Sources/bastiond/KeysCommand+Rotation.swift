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
            abstract: "Destroy decrypt-only master key versions past keys.retire_after that nothing references, and CA keys past their overlap (audited)."
        )
        @OptionGroup var options: ConfigOption

        func run() throws {
            let environment = try Startup.open(options.config)
            let destroyed = try MasterKeyRotation(environment: environment, actor: AuditCommand.auditor).retire()
            let dropped = try CARotation(environment: environment, actor: AuditCommand.auditor).promote()
            for authority in dropped { print("dropped the old \(authority.rawValue) CA key: its overlap has ended") }
            if !destroyed.isEmpty { print("destroyed master key version(s) \(destroyed.map(String.init).joined(separator: ", "))") }
            if destroyed.isEmpty, dropped.isEmpty { print("nothing to destroy") }
        }
    }
}
