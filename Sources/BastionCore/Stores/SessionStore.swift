public import Foundation

/// One relayed session, as the registry shows it (`bastiond session list`).
public struct SessionRecord: Sendable, Hashable {
    public var id: SessionID
    public var user: String
    public var login: String
    public var target: String
    public var sourceAddress: String
    public var kind: String
    public var startedAt: Date
    public var recording: String?

    /// `kind` of the row of a connection that forwards (`ssh -L`/`-W`) without a relayed
    /// session; its `target` lists the destinations and `login` is empty.
    public static let forwardKind = "forward"

    public init(id: SessionID, user: String, login: String, target: String, sourceAddress: String, kind: String, startedAt: Date, recording: String?) {
        self.id = id
        self.user = user
        self.login = login
        self.target = target
        self.sourceAddress = sourceAddress
        self.kind = kind
        self.startedAt = startedAt
        self.recording = recording
    }
}

/// Why the registry says a session that is still relayed must end now.
public enum SessionEndRequest: Sendable, Equatable {
    /// An operator asked (`bastiond session kill`).
    case kill
    /// Its row says it already ended while the session still runs: another node took this
    /// one for lost (silent longer than `storage.node_timeout`, for example while paused)
    /// and wrote its end. Nobody can list or kill it any more, so it must not go on.
    case endedElsewhere
}

/// Live sessions, shared between the daemon (which registers them and obeys kill requests)
/// and the admin CLI (which lists them and asks for kills) through the database.
public protocol SessionStore: Sendable {
    func register(_ session: SessionRecord) throws
    func markEnded(id: SessionID, at date: Date) throws
    /// Replaces what the row lists as its target: a connection that only forwards lists the
    /// destinations it has opened so far.
    func updateTarget(id: SessionID, target: String) throws
    func liveSessions() throws -> [SessionRecord]
    /// Returns false if no live session has that id.
    func requestKill(id: SessionID) throws -> Bool
    /// Whether the session `id`, still relayed by this process, must end; nil when not, or
    /// when no session has that id (one not yet registered).
    func endRequest(id: SessionID) throws -> SessionEndRequest?
    /// Ends the sessions a previous run left open (it stopped while they ran); returns them.
    func endAbandoned(at date: Date) throws -> [SessionRecord]
    /// Several nodes: records that this node is alive.
    func heartbeat() throws
    /// Several nodes: ends the live sessions of every other node silent for `silence`
    /// (killed, or its host lost) and returns them; each is returned to one caller only.
    func endSessionsOfSilentNodes(silentFor silence: TimeInterval, at date: Date) throws -> [SessionRecord]
}

extension SessionStore {
    /// One node (SQLite): nobody else's sessions to look after.
    public func heartbeat() throws {}
    public func endSessionsOfSilentNodes(silentFor silence: TimeInterval, at date: Date) throws -> [SessionRecord] { [] }
}
