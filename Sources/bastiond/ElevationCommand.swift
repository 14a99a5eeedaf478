import ArgumentParser
import BastionApp
import BastionCore
import Foundation

/// `bastiond elevation list|revoke`: the operator's view of elevation requests and grants,
/// through the database the daemon shares (live privileged sessions end within a second of
/// a revoke).
struct ElevationCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "elevation", abstract: "Elevation requests and grants.", subcommands: [List.self, Revoke.self]
    )

    static var admin: ElevationService.Caller {
        ElevationService.Caller(actor: .init(user: BastionEnvironment.operatingSystemUser, method: "admin-cli"), via: "admin-cli")
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List pending requests and active grants.")
        @OptionGroup var options: ConfigOption

        func run() throws {
            let environment = try Startup.open(options.config)
            let elevation = environment.elevation(audit: environment.auditLog)
            elevation.sweepDue()
            let open = try environment.elevations.requests(in: [.requested, .active])
            print("ID        STATE      REQUESTER     LOGIN@TARGET              UNTIL                 REASON")
            for request in open {
                let until = request.state == .active ? request.grantEndsAt : request.expiresAt
                print(
                    request.id.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
                        + request.state.rawValue.padding(toLength: 11, withPad: " ", startingAt: 0)
                        + request.requester.padding(toLength: 14, withPad: " ", startingAt: 0)
                        + "\(request.login)@\(request.target)".padding(toLength: 26, withPad: " ", startingAt: 0)
                        + (until.map(ElevateConversation.clock) ?? "-").padding(toLength: 22, withPad: " ", startingAt: 0)
                        + String(request.reason.prefix(50))
                )
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "End a grant (or kill a pending request) now.")
        @OptionGroup var options: ConfigOption
        @Argument(help: "Request id, from `elevation list`.") var id: String
        @Option(name: .long, help: "Why (recorded in the audit log).") var reason: String

        func run() throws {
            let environment = try Startup.open(options.config)
            switch environment.elevation(audit: environment.auditLog).revoke(id: ElevationID(rawValue: id), reason: reason, caller: ElevationCommand.admin) {
            case .success(let request): print("Revoked \(request.id): \(request.login) on \(request.target) for \(request.requester).")
            case .failure(let refusal): throw Refusal(message: refusal.description)
            }
        }
    }
}
