public import Foundation

/// Why Bastion ends a connection, a session or a forward, or refuses a new channel: one line
/// for the user (who already proved who they are) and one for the audit record.
public enum EnforcementReason: Sendable, Equatable {
    case shutdown
    case certificateExpired
    case accountLocked
    case accountRemoved
    case killed
    case endedElsewhere
    case maximumLength(TimeInterval)
    case idle(TimeInterval)
    case grantEnded(id: ElevationID)
    /// The user's roles no longer grant `login` on `target`.
    case accessWithdrawn(login: String, target: String)
    /// No role of the user allows `direct-tcpip` to the destination (any more).
    case forwardNotAllowed(destination: String)
    /// The user already holds `limit` connections (`max_connections` of their roles).
    case tooManyConnections(limit: Int)
    /// The connection already has `limit` session channels open (`max_sessions` of the roles).
    case tooManySessions(limit: Int)

    /// The line the user reads (`bastion: …` on the session channel, or the SSH disconnect message).
    public var userMessage: String {
        switch self {
        case .shutdown: "bastion is shutting down; session closed"
        case .certificateExpired: "your certificate expired; session closed (get a new one with `cert`)"
        case .accountLocked: "your account is locked; session closed"
        case .accountRemoved: "your account was removed; session closed"
        case .killed: "session terminated by an administrator"
        case .endedElsewhere: "this bastion node lost contact with the cluster; session closed"
        case .maximumLength(let limit): "maximum session length (\(DurationText.format(limit))) reached; session closed"
        case .idle(let limit): "session idle for \(DurationText.format(limit)); closed"
        case .grantEnded(let id): "your elevation grant \(id) ended; session closed"
        case .accessWithdrawn(let login, let target): "your roles no longer allow \(login) on \(target); session closed"
        case .forwardNotAllowed(let destination): "forwarding to \(destination) is not allowed"
        case .tooManyConnections(let limit): "you already hold \(limit) connections, the most your roles allow (max_connections); close one first"
        case .tooManySessions(let limit):
            "this connection already has \(limit) sessions open, the most your roles allow (max_sessions); close one or open another connection"
        }
    }

    /// The reason written to the audit record (`end_reason`, `reason`).
    public var auditReason: String {
        switch self {
        case .shutdown: "server shutdown"
        case .certificateExpired: "certificate expired"
        case .accountLocked: "user locked"
        case .accountRemoved: "user removed"
        case .killed: "killed by administrator"
        case .endedElsewhere: "ended by another node while this node was silent"
        case .maximumLength: "maximum session length"
        case .idle: "idle timeout"
        case .grantEnded: "elevation grant ended"
        case .accessWithdrawn(let login, let target): "roles no longer grant \(login) on \(target)"
        case .forwardNotAllowed(let destination): "direct-tcpip to \(destination) not allowed by any role"
        case .tooManyConnections(let limit): "max_connections (\(limit)) reached"
        case .tooManySessions(let limit): "max_sessions (\(limit)) reached"
        }
    }
}

extension EnforcementReason {
    /// Whether a refused channel ends the whole connection: a refused forward or one session
    /// too many leaves the rest of the connection as it is; everything else ends it.
    public var endsConnection: Bool {
        switch self {
        case .forwardNotAllowed, .tooManySessions: false
        default: true
        }
    }
}
