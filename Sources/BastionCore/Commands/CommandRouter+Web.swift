import Foundation

extension CommandRouter {
    /// `web`: a single-use link that signs the auditor in to the web view. The issuer audits
    /// the link (`web.signin_link`); the link itself is never written to the audit log.
    func runWeb(identity: AuthenticatedIdentity, now: Date) -> CommandResult {
        guard let webSignIn else { return .output(.failure("web: the web view is not available")) }
        let link: String
        do {
            link = try webSignIn.signInLink(for: identity.user, connection: identity.connection.auditConnection(sshUsername: identity.user.name.rawValue))
        } catch {
            return .output(.failure("internal failure; try again later"))
        }
        return .output(CommandOutput(stdout: """
            Open this link in your browser within a minute; it works once:
            \(link)
            Append ?next=/sessions/ID to land on a session's player.

            """))
    }
}
