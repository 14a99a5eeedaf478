import ArgumentParser
import BastionApp
import BastionCore
import Foundation

/// `bastiond siem status|dead-letters`: how far each configured sink has got.
struct SIEMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "siem", abstract: "SIEM sinks: delivery state and dead letters.", subcommands: [Status.self, DeadLetters.self]
    )

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Each sink's state, backlog (depth and age) and last error.")
        @OptionGroup var options: ConfigOption

        func run() throws {
            let environment = try Startup.open(options.config)
            let sinks = environment.configuration.siem.sinks
            guard !sinks.isEmpty else {
                print("No SIEM sinks configured ([[siem.sinks]] in \(options.config)).")
                return
            }
            let now = Date()
            print(AuditCommand.Search.columns([
                ("SINK", 14), ("KIND", 8), ("STATE", 10), ("DEPTH", 9), ("OLDEST", 10), ("DELIVERED", 26), ("DEAD", 6), ("LAST ERROR", 0),
            ]))
            for sink in sinks {
                let state = try environment.siemOutbox.state(of: sink.name)
                let condition = state.map { $0.attempts > 0 ? "retrying" : ($0.depth == 0 ? "idle" : "sending") } ?? "new"
                let age = state?.oldestPending.map { DurationText.format(now.timeIntervalSince($0).rounded(.down)) } ?? "-"
                print(AuditCommand.Search.columns([
                    (sink.name, 14), (sink.kind.name, 8), (condition, 10), (state.map { String($0.depth) } ?? "-", 9), (age, 10),
                    (state?.deliveredAt.map(AuditEvent.timestamp) ?? "-", 26), (state.map { String($0.deadLetters) } ?? "0", 6),
                    (state?.lastError ?? "-", 0),
                ]))
            }
        }
    }

    struct DeadLetters: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dead-letters", abstract: "Records a receiver refused (4xx), with its reason; they are not retried."
        )
        @OptionGroup var options: ConfigOption
        @Option(help: "Only this sink.") var sink: String?

        func run() throws {
            let environment = try Startup.open(options.config)
            let letters = try environment.siemOutbox.deadLetters(of: sink)
            print(AuditCommand.Search.columns([("SINK", 14), ("SEQ", 9), ("TIME", 26), ("REASON", 0)]))
            for letter in letters {
                print(AuditCommand.Search.columns([(letter.sink, 14), (String(letter.seq), 9), (AuditEvent.timestamp(letter.time), 26), (letter.reason, 0)]))
            }
        }
    }
}
