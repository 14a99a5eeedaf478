import ArgumentParser
import BastionApp
import BastionCore
import Foundation

extension KeysCommand {
    /// `keys rotate-audit`: the next audit key signs checkpoints from now on; the old one is destroyed.
    struct RotateAudit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-audit",
            abstract: "Make the next audit key, sign it into the key history with the current one, then destroy the current one (audited).",
            discussion: """
                The running daemon signs its next checkpoint with the new key. With the file provider on several nodes, \
                copy audit_key.vN and audit_key.vN.pub to every node (docs/audit-chain.md "Audit key rotation").
                """
        )
        @OptionGroup var options: ConfigOption

        func run() throws {
            let environment = try Startup.open(options.config)
            let entry: AuditKeyEntry
            do { entry = try AuditKeyRotation(environment: environment, actor: AuditCommand.auditor).rotate() } catch {
                throw Refusal(message: "keys rotate-audit: \(error)")
            }
            print("audit key version \(entry.version) (\(entry.fingerprint)) signs checkpoints from seq \(entry.fromSeq); version \(entry.version - 1) destroyed")
        }
    }
}
