import Foundation

extension CommandRouter {
    /// `replay ID …`: plays a verified recording into the auditor's terminal, or (`--raw`)
    /// streams the `.cast` file itself.
    func runReplay(_ ask: BastionCommand.ReplayAsk, identity: AuthenticatedIdentity, archive: any SessionArchive, now: Date) -> CommandResult {
        .output(.failure("replay: not available yet"))
    }
}
