/// Who may watch (or terminate) a live session: auditors, and the approvers of the elevation
/// grant the session runs under.
///
/// Anyone else gets the same refusal whether the session exists or not, so that `watch` cannot
/// be used to probe for the ids of live sessions.
public enum WatchPermission: Sendable, Equatable {
    case allowed(as: Role)
    /// Only an auditor learns that no live session has the id.
    case noSuchSession
    case refused

    public enum Role: String, Sendable, Equatable {
        case auditor
        case approver
    }

    /// - Parameter grantApprovers: the approvers of the session's grant; `[]` without a grant or
    ///   without a session, nil when the grant could not be read (refused: fail closed).
    public static func decide(isAuditor: Bool, user: String, sessionExists: Bool, grantApprovers: [String]?) -> WatchPermission {
        if isAuditor { return sessionExists ? .allowed(as: .auditor) : .noSuchSession }
        guard sessionExists, let approvers = grantApprovers, approvers.contains(user) else { return .refused }
        return .allowed(as: .approver)
    }

    /// The refusal line for everyone who is neither (the same for an unknown id).
    public static func refusal(_ id: SessionID) -> String {
        "watch: you may not watch session \(id) (auditors and the approvers of its elevation grant only)"
    }
}
