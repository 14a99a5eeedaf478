import GRDB

/// The SQLite-backed stores over one database file, without exposing GRDB to callers.
public struct DatabasePoolHandle: Sendable {
    public let users: SQLiteUserStore
    public let ledger: SQLiteCertificateLedger
    public let auditLog: SQLiteAuditLog
    public let sessions: SQLiteSessionStore
    private let pool: DatabasePool

    public init(path: String) throws {
        pool = try BastionDatabase.open(path: path)
        users = SQLiteUserStore(database: pool)
        ledger = SQLiteCertificateLedger(database: pool)
        auditLog = SQLiteAuditLog(database: pool)
        sessions = SQLiteSessionStore(database: pool)
    }

    /// An in-memory database with the real schema (tests, benchmarks).
    public static func inMemory() throws -> (users: SQLiteUserStore, ledger: SQLiteCertificateLedger, auditLog: SQLiteAuditLog) {
        let queue = try BastionDatabase.inMemory()
        return (SQLiteUserStore(database: queue), SQLiteCertificateLedger(database: queue), SQLiteAuditLog(database: queue))
    }

    /// True when a trivial read succeeds.
    public var isReachable: @Sendable () -> Bool {
        { [pool] in (try? pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }) == 1 }
    }
}
