public import Foundation

/// What is true of one authenticated connection at one instant, as the SSH adapter read it:
/// the input of ``EnforcementPoint``. The adapter reads the stores; the point only decides.
public struct EnforcementFacts: Sendable {
    /// The account as the user store reads it now.
    public enum Account: Sendable, Equatable {
        case current(User)
        /// No such user any more (`bastiond user remove`).
        case removed
        /// The store did not answer (a database restart): nothing ends for want of an answer.
        case unreadable
    }

    /// The elevation grant a relayed session runs under, as the elevation store reads it now.
    public enum Grant: Sendable, Equatable {
        case active
        case ended(id: ElevationID)
        case unreadable
    }

    /// One relayed session of the connection (`LOGIN@TARGET`; several over one connection
    /// with OpenSSH's `ControlMaster`).
    public struct Session: Sendable, Equatable {
        /// The session's id in the registry.
        public var id: SessionID
        public var login: String
        public var target: String
        public var startedAt: Date
        /// The role's `max_session` when the session started; nil for none.
        public var maxDuration: TimeInterval?
        /// The last byte either way.
        public var lastActivity: Date
        /// nil when the session needs no grant.
        public var grant: Grant?
        /// What the registry says of the session's row: `bastiond session kill`, or ended by
        /// another node.
        public var endRequest: SessionEndRequest?

        public init(
            id: SessionID = SessionID(rawValue: ""), login: String, target: String, startedAt: Date, maxDuration: TimeInterval?, lastActivity: Date,
            grant: Grant? = nil, endRequest: SessionEndRequest? = nil
        ) {
            self.id = id
            self.endRequest = endRequest
            self.login = login
            self.target = target
            self.startedAt = startedAt
            self.maxDuration = maxDuration
            self.lastActivity = lastActivity
            self.grant = grant
        }
    }

    /// One open `direct-tcpip` stream.
    public struct Forward: Sendable, Equatable {
        public var host: String
        public var port: Int

        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }

        /// `HOST:PORT`, bracketed for IPv6, as roles list destinations.
        public var destination: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    public var account: Account
    /// `validBefore` of the certificate the connection authenticated with; nil for key + TOTP.
    public var certificateValidBefore: Date?
    /// The daemon is stopping.
    public var shuttingDown: Bool
    /// What the session registry says of the connection's own row (the one listing its
    /// forwards): `bastiond session kill`, or ended by another node.
    public var endRequest: SessionEndRequest?
    /// The relayed sessions running on the connection.
    public var sessions: [Session]
    /// Session channels open on the connection (relayed sessions, Bastion commands, channels
    /// not yet asked to run anything): what `max_sessions` counts.
    public var sessionChannels: Int
    public var forwards: [Forward]
    /// For a connection with no session channel open: its last sign of use (a forwarded byte,
    /// a channel closing, the login), for the idle timeout. nil when idle time does not apply.
    public var lastActivity: Date?
    /// This connection's place among the user's authenticated connections, oldest first
    /// (1: the oldest); what `max_connections` is checked against at a new channel.
    public var connectionRank: Int

    public init(
        account: Account, certificateValidBefore: Date? = nil, shuttingDown: Bool = false, endRequest: SessionEndRequest? = nil,
        sessions: [Session] = [], sessionChannels: Int? = nil, forwards: [Forward] = [], lastActivity: Date? = nil, connectionRank: Int = 1
    ) {
        self.connectionRank = connectionRank
        self.account = account
        self.certificateValidBefore = certificateValidBefore
        self.shuttingDown = shuttingDown
        self.endRequest = endRequest
        self.sessions = sessions
        self.sessionChannels = sessionChannels ?? sessions.count
        self.forwards = forwards
        self.lastActivity = lastActivity
    }
}
