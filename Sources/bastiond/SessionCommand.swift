import ArgumentParser
import BastionApp
import BastionCore
import Foundation

/// `bastiond session list|kill`: live relayed sessions, seen and ended through the database
/// the daemon shares (it checks kill requests every second).
struct SessionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "session", abstract: "Live relayed sessions and forwarding connections.", subcommands: [List.self, Kill.self]
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List live sessions.")
        @OptionGroup var options: ConfigOption

        func run() throws {
            let environment = try Startup.open(options.config)
            let now = Date()
            try environment.auditLog.append(AuditEvent(type: .sessionList, time: now, actor: AuditCommand.auditor))
            let sessions = try environment.sessions.liveSessions()
            print("ID                USER          LOGIN@TARGET              FROM              AGE      KIND")
            for session in sessions {
                let age = DurationText.format(now.timeIntervalSince(session.startedAt).rounded(.down))
                print(
                    session.id.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0)
                        + session.user.padding(toLength: 14, withPad: " ", startingAt: 0)
                        + SessionCommand.what(session).padding(toLength: 26, withPad: " ", startingAt: 0)
                        + session.sourceAddress.padding(toLength: 18, withPad: " ", startingAt: 0)
                        + age.padding(toLength: 9, withPad: " ", startingAt: 0) + session.kind
                )
            }
        }
    }

    /// `LOGIN@TARGET` for a relayed session; `-> DESTINATIONS` for a connection that only forwards.
    static func what(_ session: SessionRecord) -> String {
        session.kind == SessionRecord.forwardKind ? "-> \(session.target)" : "\(session.login)@\(session.target)"
    }

    struct Kill: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End a live session (the user is told).")
        @OptionGroup var options: ConfigOption
        @Argument(help: "Session id, from `session list`.") var id: String

        func run() throws {
            let environment = try Startup.open(options.config)
            guard try environment.sessions.requestKill(id: SessionID(rawValue: id)) else { throw Refusal(message: "no live session \(id)") }
            try environment.auditLog.append(AuditEvent(
                type: .sessionKill, time: Date(), actor: .init(user: BastionEnvironment.operatingSystemUser, method: "admin-cli"),
                session: .init(id: SessionID(rawValue: id)), details: ["session_id": id]
            ))
            print("Asked session \(id) to end; it closes within a second or two.")
        }
    }
}
