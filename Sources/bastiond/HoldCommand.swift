import ArgumentParser
import BastionApp
import BastionCore
import Foundation

/// `bastiond audit hold add|remove|list`: legal holds keep matching audit records and
/// recordings past their retention date. Adding and removing are both audited.
struct HoldCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold", abstract: "Legal holds on audit records and recordings.", subcommands: [Add.self, Remove.self, List.self]
    )

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Keep a user's, a session's or a seq range's records past retention.")
        @OptionGroup var options: ConfigOption
        @Option(help: "Every record and recording of this user.") var user: String?
        @Option(help: "Every record and the recording of this session.") var session: String?
        @Option(help: "Records FROM-TO by seq (e.g. 1200-1850).") var range: String?
        @Option(help: "Why (case number, request): required.") var reason: String

        func run() throws {
            let scopes: [LegalHold.Scope] = [user.map { .user($0) }, session.map { .session($0) }].compactMap { $0 }
                + (try range.map { text -> LegalHold.Scope in
                    guard let parsed = LegalHold.Scope.parseRange(text) else { throw Refusal(message: "--range \(text): use FROM-TO seqs, e.g. 1200-1850") }
                    return .range(parsed)
                }.map { [$0] } ?? [])
            guard scopes.count == 1, let scope = scopes.first else { throw Refusal(message: "give exactly one of --user, --session, --range") }
            guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else { throw Refusal(message: "--reason must not be empty") }
            let environment = try Startup.open(options.config)
            let actor = AuditCommand.auditor
            let now = Date()
            let id = try environment.auditLog.addHold(scope, reason: reason, by: actor.user ?? "?", at: now) { id in
                AuditEvent(type: .holdAdd, time: now, actor: actor, reason: reason, details: ["hold_id": String(id), "scope": scope.description])
            }
            print("Legal hold \(id) placed on \(scope): kept past retention until `bastiond audit hold remove \(id)`.")
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End a legal hold (its records then follow retention again).")
        @OptionGroup var options: ConfigOption
        @Argument(help: "Hold id, from `audit hold list`.") var id: Int64
        @Option(help: "Why the hold ends: required.") var reason: String

        func run() throws {
            let environment = try Startup.open(options.config)
            let actor = AuditCommand.auditor
            let now = Date()
            do {
                let hold = try environment.auditLog.removeHold(id: id, by: actor.user ?? "?", at: now) { hold in
                    AuditEvent(type: .holdRemove, time: now, actor: actor, reason: reason, details: ["hold_id": String(hold.id), "scope": hold.scope.description])
                }
                print("Legal hold \(hold.id) on \(hold.scope) removed.")
            } catch let error as StoreError where error.code == .notFound {
                throw Refusal(message: error.detail)
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every legal hold, active and removed.")
        @OptionGroup var options: ConfigOption

        func run() throws {
            let environment = try Startup.open(options.config)
            print("ID    STATE     SCOPE                          SINCE                     BY            REASON")
            for hold in try environment.auditLog.holds() {
                print(
                    String(hold.id).padding(toLength: 6, withPad: " ", startingAt: 0)
                        + (hold.isActive ? "active" : "removed").padding(toLength: 10, withPad: " ", startingAt: 0)
                        + hold.scope.description.padding(toLength: 31, withPad: " ", startingAt: 0)
                        + AuditEvent.timestamp(hold.createdAt).padding(toLength: 26, withPad: " ", startingAt: 0)
                        + hold.createdBy.padding(toLength: 14, withPad: " ", startingAt: 0) + hold.reason
                )
            }
        }
    }
}

/// `bastiond retention run`: purge what is past retention now (the daemon does it daily).
struct RetentionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retention", abstract: "The retention policy (seven years at least).", subcommands: [Run.self]
    )

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Purge audit ranges and recordings past their retention date, except those on legal hold; audited."
        )
        @OptionGroup var options: ConfigOption

        func run() throws {
            let environment = try Startup.open(options.config)
            let summary = try RetentionRun(environment: environment, actor: AuditCommand.auditor).run()
            print(summary.text)
        }
    }
}
