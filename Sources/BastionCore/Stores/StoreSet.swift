/// Every store of one backend (the embedded SQLite file, or a PostgreSQL database shared by
/// several nodes), as the daemon, the admin commands and the tests open them.
public struct StoreSet: Sendable {
    public var users: any UserStore
    public var ledger: any CertificateLedger
    public var auditLog: any AuditLogStore
    public var sessions: any SessionStore
    public var outbox: any OutboxStore
    public var elevations: any ElevationStore
    public var catalog: any SessionCatalog
    public var webSessions: any WebSessionStore
    /// True when a trivial read succeeds (`/healthz`).
    public var isReachable: @Sendable () -> Bool

    public init(
        users: any UserStore, ledger: any CertificateLedger, auditLog: any AuditLogStore, sessions: any SessionStore,
        outbox: any OutboxStore, elevations: any ElevationStore, catalog: any SessionCatalog, webSessions: any WebSessionStore,
        isReachable: @escaping @Sendable () -> Bool
    ) {
        self.users = users
        self.ledger = ledger
        self.auditLog = auditLog
        self.sessions = sessions
        self.outbox = outbox
        self.elevations = elevations
        self.catalog = catalog
        self.webSessions = webSessions
        self.isReachable = isReachable
    }
}
