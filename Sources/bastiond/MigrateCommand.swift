import ArgumentParser
import BastionApp
import BastionPostgres
import BastionStore

/// `bastiond migrate`: brings the database schema up to date without starting the daemon.
///
/// `serve` migrates at start too; this is for operators who upgrade the schema as a step of
/// its own (one node first, before the others restart on the new version). Migrations are
/// numbered and append-only; on PostgreSQL they run under an advisory lock, so nodes
/// starting at the same time apply each one once.
struct MigrateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "migrate", abstract: "Bring the database schema up to date.")

    @OptionGroup var options: ConfigOption

    func run() throws {
        let configuration = try Startup.loadConfiguration(options.config)
        let location: String
        let result: (applied: [String], total: Int)
        do {
            if let url = configuration.storage.url {
                location = "PostgreSQL \(configuration.storage.redactedURL ?? url)"
                result = try PostgresDatabase.migrate(url: url)
            } else {
                let path = configuration.server.dataDirectory + "/" + BastionEnvironment.databaseFileName
                location = "SQLite \(path)"
                result = try BastionDatabase.migrate(path: path)
            }
        } catch {
            throw Refusal(message: "migration failed: \(error)")
        }
        for id in result.applied { print("applied \(id)") }
        print("\(location): schema up to date (\(result.total) migrations, \(result.applied.count) applied now)")
    }
}
