import Foundation

extension CommandRouter {
    /// `web`: a single-use link that signs the auditor in to the web view.
    func runWeb(identity: AuthenticatedIdentity, now: Date) -> CommandResult {
        guard let webSignIn else { return .output(.failure("web: the web view is not available")) }
        _ = webSignIn
        return .output(.failure("web: not available yet"))
    }
}
