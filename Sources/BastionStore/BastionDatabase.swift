public import GRDB
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import BastionCore

/// Opens Bastion's embedded SQLite database and brings its schema up to date.
///
/// WAL mode (GRDB's `DatabasePool`) lets the admin CLI write while the daemon runs; a busy
/// timeout turns brief lock contention between the two processes into a short wait.
public enum BastionDatabase {
    /// Opens (creating if needed) the database file, 0600, and migrates it.
    public static func open(path: String, migrating: Bool = true) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.foreignKeysEnabled = true
        // Durable commits: in WAL mode FULL syncs the log at every commit, so an audit record
        // that was acknowledged survives a power cut (appends are group-committed).
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        // Create the file 0600 before SQLite does: SQLite gives the -wal and -shm files the
        // database file's mode, and they hold the same data.
        if !FileManager.default.fileExists(atPath: path) {
            let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            if fd >= 0 { Glibc.close(fd) }
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        if migrating { try migrator.migrate(pool) }
        return pool
    }

    /// Brings the database file's schema up to date (`bastiond migrate`); returns the ids of
    /// the migrations it applied now and the number the schema has in all.
    public static func migrate(path: String) throws -> (applied: [String], total: Int) {
        let pool = try open(path: path, migrating: false)
        let before = try pool.read { db in try migrator.appliedIdentifiers(db) }
        try migrator.migrate(pool)
        return (migrator.migrations.filter { !before.contains($0) }, migrator.migrations.count)
    }

    /// An in-memory database with the real schema, for tests.
    public static func inMemory() throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = true
        let queue = try DatabaseQueue(configuration: configuration)
        try migrator.migrate(queue)
        return queue
    }

    /// Numbered, append-only migrations (Migrations/): never edit one that has shipped; add the next.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for migration in SQLiteMigrations.all {
            migrator.registerMigration(migration.name, migrate: migration.migrate)
        }
        return migrator
    }
}
