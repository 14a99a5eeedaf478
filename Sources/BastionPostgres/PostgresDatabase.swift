public import BastionCore
import Dispatch
public import Foundation
import Synchronization

/// A small pool of libpq connections to one PostgreSQL database, shared by every store of a
/// node, with Bastion's schema brought up to date when it opens.
///
/// Blocking by design (see ``PostgresConnection``): callers are libssh connection threads and
/// NIO's blocking pool, never Swift's cooperative pool. A connection that broke is dropped and
/// the next call connects again, so while PostgreSQL is down every call fails at once with
/// ``StoreError/Code/unavailable`` (new logins fail closed) and work resumes when it is back.
public final class PostgresDatabase: Sendable {
    /// Most connections one node opens; more callers wait for one (at most ``checkoutTimeout``).
    public static let defaultMaxConnections = 16
    static let checkoutTimeout: DispatchTimeInterval = .seconds(10)

    private let url: String
    private let idle = Mutex<[PostgresConnection]>([])
    private let slots: DispatchSemaphore
    private let maxConnections: Int

    /// Connects and migrates. Throws ``StoreError`` (`unavailable`) when the server cannot be
    /// reached or the schema cannot be brought up to date.
    public init(url: String, maxConnections: Int = PostgresDatabase.defaultMaxConnections, migrate: Bool = true) throws {
        self.url = Self.withConnectTimeout(url)
        self.maxConnections = maxConnections
        slots = DispatchSemaphore(value: maxConnections)
        if migrate { try PostgresMigrations.run(on: self) }
    }

    deinit {
        idle.withLock { $0.removeAll() }
    }

    /// Connects and brings the schema up to date (`bastiond migrate`); returns the ids of the
    /// migrations applied now and the number the schema has in all.
    public static func migrate(url: String) throws -> (applied: [String], total: Int) {
        let database = try PostgresDatabase(url: url, maxConnections: 1, migrate: false)
        return (try database.storeErrors { try PostgresMigrations.run(on: database) }, PostgresMigrations.all.count)
    }

    /// Every store on this database, for node `node` (its live sessions and delivery leases).
    public func stores(node: String, sealing: AuditSealing, clock: any WallClock = SystemWallClock(), leaseDuration: TimeInterval = 15) -> StoreSet {
        StoreSet(
            users: PostgresUserStore(database: self), ledger: PostgresCertificateLedger(database: self),
            auditLog: PostgresAuditLog(database: self, sealing: sealing, clock: clock), sessions: PostgresSessionStore(database: self, node: node),
            outbox: PostgresOutbox(database: self, node: node, leaseDuration: leaseDuration), elevations: PostgresElevationStore(database: self),
            catalog: PostgresSessionCatalog(database: self), webSessions: PostgresWebSessionStore(database: self),
            isReachable: { [self] in isReachable }
        )
    }

    /// Runs `body` on one connection outside any explicit transaction (each statement commits
    /// on its own): reads, and writes that are a single statement.
    @discardableResult
    func run<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try storeErrors { try withConnection(body) }
    }

    /// Runs `body` in one transaction, committed when it returns and rolled back when it
    /// throws. A serialization failure or deadlock (two nodes racing) runs it again, up to 3 times.
    @discardableResult
    func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        try storeErrors {
            var attempt = 0
            while true {
                attempt += 1
                do {
                    return try withConnection { connection in
                        try connection.query("BEGIN")
                        do {
                            let result = try body(connection)
                            try connection.query("COMMIT")
                            return result
                        } catch {
                            _ = try? connection.query("ROLLBACK")
                            throw error
                        }
                    }
                } catch PostgresError.server(let state, _) where attempt < 3
                    && (state == PostgresError.serializationFailure || state == PostgresError.deadlock)
                {
                    continue
                }
            }
        }
    }

    /// True when a trivial statement succeeds (health checks).
    public var isReachable: Bool {
        (try? run { connection in try connection.query("SELECT 1 AS one").first?.int("one") }) == 1
    }

    // MARK: - Pool

    private func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        guard slots.wait(timeout: .now() + Self.checkoutTimeout) == .success else {
            throw PostgresError.connection("all \(maxConnections) connections to PostgreSQL are busy")
        }
        defer { slots.signal() }
        // An idle connection the server closed meanwhile (it restarted) is dropped here, not
        // discovered by failing the caller's statement.
        var reused = idle.withLock { $0.popLast() }
        while let candidate = reused, !candidate.isAlive { reused = idle.withLock { $0.popLast() } }
        let connection = try reused ?? PostgresConnection(url: url)
        let result: T
        do {
            result = try body(connection)
        } catch {
            if connection.isUsable { idle.withLock { $0.append(connection) } }
            throw error
        }
        if connection.isUsable { idle.withLock { $0.append(connection) } }
        return result
    }

    private func storeErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as StoreError {
            throw error
        } catch let error as PostgresError {
            switch error {
            case .server(let state, _) where state == PostgresError.uniqueViolation: throw StoreError(.conflict, error.description)
            case .decoding: throw StoreError(.corrupt, error.description)
            default: throw StoreError(.unavailable, error.description)
            }
        }
    }

    /// libpq waits for a TCP connect as long as the kernel does (minutes) unless told; a node
    /// must fail a login quickly when PostgreSQL is unreachable.
    static func withConnectTimeout(_ url: String) -> String {
        guard !url.contains("connect_timeout") else { return url }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return url + (url.contains("?") ? "&" : "?") + "connect_timeout=5"
        }
        return url + " connect_timeout=5"
    }
}
