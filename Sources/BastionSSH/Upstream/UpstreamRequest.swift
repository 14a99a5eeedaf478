public import BastionCore
public import Foundation

/// What the relay needs to reach one target as one login.
///
/// Built by the caller from a `TargetDefinition` (host, port, pinned host key) and the
/// session being relayed (who, as which login, which session).
public struct UpstreamRequest: Sendable {
    public var host: String
    public var port: Int
    /// The target's pinned host key (`TargetDefinition.hostKey`); any other key is refused.
    public var pinnedHostKey: SSHPublicKey
    /// The account on the target; also the only principal of the session certificate.
    public var login: String
    /// The Bastion user the session belongs to (goes into the certificate's key ID).
    public var user: String
    /// The session's identifier (goes into the certificate's key ID, so the target's
    /// `Accepted certificate ID` log line names the session).
    public var sessionID: String
    /// Seconds allowed for TCP connect, key exchange and each authentication step.
    public var connectTimeout: TimeInterval
    /// Key exchange, ciphers and MACs offered to the target (`ssh.*` lists, as on the front door).
    public var algorithms: SSHAlgorithms

    public init(
        host: String, port: Int, pinnedHostKey: SSHPublicKey, login: String, user: String, sessionID: String,
        connectTimeout: TimeInterval = 10, algorithms: SSHAlgorithms = .defaults
    ) {
        self.algorithms = algorithms
        self.host = host
        self.port = port
        self.pinnedHostKey = pinnedHostKey
        self.login = login
        self.user = user
        self.sessionID = sessionID
        self.connectTimeout = connectTimeout
    }
}
