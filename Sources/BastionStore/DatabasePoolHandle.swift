public import BastionCore
import GRDB

/// The SQLite-backed stores over one database file, without exposing GRDB to callers.
public struct DatabasePoolHandle: Sendable {
    public let users: SQLiteUserStore
    public let ledger: SQLiteCertificateLedger
    public let auditLog: SQLiteAuditLog
    public let sessions: SQLiteSessionStore
    public let siemOutbox: SQLiteSIEMOutbox
    public let elevations: SQLiteElevationStore
    public let sessionCatalog: SQLiteSessionCatalog
    public let webSessions: SQLiteWebSessionStore
    private let pool: DatabasePool

    /// - Parameter sealing: how audit checkpoints are signed (the audit key, every N records).
    public init(path: String, sealing: SQLiteAuditLog.Sealing = .init(key: nil), clock: any WallClock = SystemWallClock()) throws {
        pool = try BastionDatabase.open(path: path)
        users = SQLiteUserStore(database: pool)
        ledger = SQLiteCertificateLedger(database: pool)
        auditLog = SQLiteAuditLog(database: pool, sealing: sealing, clock: clock)
        sessions = SQLiteSessionStore(database: pool)
        siemOutbox = SQLiteSIEMOutbox(database: pool)
        elevations = SQLiteElevationStore(database: pool)
        sessionCatalog = SQLiteSessionCatalog(database: pool)
        webSessions = SQLiteWebSessionStore(database: pool)
    }

    /// The stores as their protocols, for code that works on either backend.
    public var stores: StoreSet {
        StoreSet(
            users: users, ledger: ledger, auditLog: auditLog, sessions: sessions, outbox: siemOutbox, elevations: elevations,
            catalog: sessionCatalog, webSessions: webSessions, isReachable: isReachable
        )
    }

    /// An in-memory database with the real schema (tests, benchmarks).
    public static func inMemory() throws -> (users: SQLiteUserStore, ledger: SQLiteCertificateLedger, auditLog: SQLiteAuditLog) {
        let queue = try BastionDatabase.inMemory()
        return (SQLiteUserStore(database: queue), SQLiteCertificateLedger(database: queue), SQLiteAuditLog(database: queue, sealing: .init(key: nil)))
    }

    /// True when a trivial read succeeds.
    public var isReachable: @Sendable () -> Bool {
        { [pool] in (try? pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }) == 1 }
    }
}
