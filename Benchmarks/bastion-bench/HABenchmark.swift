import BastionCore
import BastionCrypto
import BastionPostgres
import BastionStore
import BastionTesting
import Foundation

/// Several nodes (issue 8): logins per second and durable audit appends per second with two
/// bastiond nodes on one PostgreSQL server against one node on its embedded SQLite file,
/// side by side in one run, and the ratios.
///
/// PostgreSQL runs here with its own durability defaults (fsync at every commit, like SQLite's
/// `synchronous = FULL`), on the same 2 cores as the nodes and the clients; in production it
/// has a host of its own. Logins: the same OpenSSH clients with a certificate, spread over the
/// two nodes' ports (what HAProxy would do), against the one SQLite node. Appends: the same
/// number of writer threads, split over two nodes' logs (one chain), against one SQLite log.
enum HABenchmark {
    struct Result {
        var sqliteLogins: LoginLoad.Measurement
        var postgresLogins: LoginLoad.Measurement
        var appendRecords: Int
        var appendWriters: Int
        var sqliteAppendsPerSecond: Double
        var postgresAppendsPerSecond: Double
        var postgresChainIntact: Bool
    }

    static let appendRecords = 20_000

    static func run(
        options: BenchOptions, bastion: BastiondTarget, identity: String, publicKey: String, secret: String, scratch: ScratchDirectory
    ) throws -> Result {
        let postgres: PostgresFixture
        do { postgres = try PostgresFixture(durable: true) } catch { throw BenchError("cannot start PostgreSQL: \(error)") }
        defer { postgres.stop() }
        let url = try postgres.createDatabase()

        // One node on SQLite.
        let sqliteLogins: LoginLoad.Measurement
        do {
            let daemon = try bastion.start()
            defer { BastionBench.stop(daemon) }
            let certificate = try bastion.fetchCertificate(user: "alice", identity: identity, totpSecret: secret)
            let login = SSHClient.arguments(
                port: bastion.sshPort, destination: "alice@127.0.0.1", command: "whoami", identity: identity, certificate: certificate,
                kex: options.kex
            )
            BastionBench.note("one node on SQLite: \(options.logins) logins, \(options.concurrency) concurrent")
            try LoginLoad.probe(login, scratch: scratch)
            sqliteLogins = try LoginLoad.run(
                login, count: options.logins, concurrency: options.concurrency, scratch: scratch,
                serverCPU: { () throws(BenchError) in try ProcessCPU.seconds(of: daemon.pid, .selfOnly) }, settle: { ProcessCPU.settle(daemon.pid) }
            )
        }

        // Two nodes on PostgreSQL (same key files: one data directory).
        let nodeA = try bastion.onPostgres(url: url, node: "node-a")
        let nodeB = try bastion.onPostgres(url: url, node: "node-b")
        let postgresSecret = try nodeA.enroll(user: "alice", publicKey: publicKey)
        let postgresLogins: LoginLoad.Measurement
        do {
            let daemonA = try nodeA.start()
            defer { BastionBench.stop(daemonA) }
            let daemonB = try nodeB.start()
            defer { BastionBench.stop(daemonB) }
            let certificate = try nodeA.fetchCertificate(user: "alice", identity: identity, totpSecret: postgresSecret)
            let logins = [nodeA, nodeB].map { node in
                SSHClient.arguments(
                    port: node.sshPort, destination: "alice@127.0.0.1", command: "whoami", identity: identity, certificate: certificate,
                    kex: options.kex
                )
            }
            BastionBench.note("two nodes on PostgreSQL: \(options.logins) logins, \(options.concurrency) concurrent, spread over both")
            for login in logins { try LoginLoad.probe(login, scratch: scratch) }
            postgresLogins = try LoginLoad.run(
                spreadOver: logins, count: options.logins, concurrency: options.concurrency, scratch: scratch,
                serverCPU: { () throws(BenchError) in
                    try ProcessCPU.seconds(of: daemonA.pid, .selfOnly) + ProcessCPU.seconds(of: daemonB.pid, .selfOnly)
                },
                settle: {
                    ProcessCPU.settle(daemonA.pid)
                    ProcessCPU.settle(daemonB.pid)
                }
            )
        }

        // Durable audit appends: the same writers, one SQLite log vs two nodes' logs on one chain.
        let writers = options.auditWriters
        BastionBench.note("audit appends: \(appendRecords) from \(writers) threads, one SQLite node vs two PostgreSQL nodes")
        let key = try Ed25519PrivateKey()
        let sqliteLog = try DatabasePoolHandle(path: scratch.file("ha-audit.sqlite"), sealing: .init(key: key, every: 1_000)).auditLog
        let sqliteRate = try appendRate(logs: [sqliteLog], writers: writers)
        // A database of its own: the nodes above signed their checkpoints with their own audit key.
        let appendURL = try postgres.createDatabase()
        let postgresLogs: [any AuditLogStore] = try (0..<2).map { _ in
            PostgresAuditLog(database: try PostgresDatabase(url: appendURL), sealing: .init(key: key, every: 1_000))
        }
        let postgresRate = try appendRate(logs: postgresLogs, writers: writers)
        let report = try postgresLogs[0].verify(publicKey: key.publicKey, purgeableBefore: .distantPast)
        return Result(
            sqliteLogins: sqliteLogins, postgresLogins: postgresLogins, appendRecords: appendRecords, appendWriters: writers,
            sqliteAppendsPerSecond: sqliteRate, postgresAppendsPerSecond: postgresRate,
            postgresChainIntact: report.isIntact && report.recordsChecked == appendRecords
        )
    }

    /// Appends `appendRecords` from `writers` threads, writer `i` on `logs[i % logs.count]`.
    private static func appendRate(logs: [any AuditLogStore], writers: Int) throws -> Double {
        let failures = AuditBenchmark.Failures()
        let group = DispatchGroup()
        let start = Date()
        for writer in 0..<writers {
            let log = logs[writer % logs.count]
            let share = appendRecords / writers + (writer < appendRecords % writers ? 1 : 0)
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    for index in 0..<share { try log.append(AuditBenchmark.event(index, writer: writer)) }
                } catch {
                    failures.record(error)
                }
            }.start()
        }
        group.wait()
        if let error = failures.first { throw error }
        return Double(appendRecords) / Date().timeIntervalSince(start)
    }

    static func render(_ result: Result) -> String {
        func rate(_ value: Double) -> String { String(format: "%.1f", value) }
        let loginRatio = result.postgresLogins.loginsPerSecond / result.sqliteLogins.loginsPerSecond
        let appendRatio = result.postgresAppendsPerSecond / result.sqliteAppendsPerSecond
        return """
            several nodes                    one node, SQLite   two nodes, PostgreSQL   ratio
            logins/s                         \(rate(result.sqliteLogins.loginsPerSecond).padding(toLength: 19, withPad: " ", startingAt: 0))\
            \(rate(result.postgresLogins.loginsPerSecond).padding(toLength: 24, withPad: " ", startingAt: 0))\(String(format: "%.2fx", loginRatio))
            node CPU ms/login                \(String(format: "%.1f", result.sqliteLogins.cpuSecondsPerLogin * 1000).padding(toLength: 19, withPad: " ", startingAt: 0))\
            \(String(format: "%.1f", result.postgresLogins.cpuSecondsPerLogin * 1000).padding(toLength: 24, withPad: " ", startingAt: 0))(both nodes; PostgreSQL's own CPU not counted)
            durable audit appends/s          \(rate(result.sqliteAppendsPerSecond).padding(toLength: 19, withPad: " ", startingAt: 0))\
            \(rate(result.postgresAppendsPerSecond).padding(toLength: 24, withPad: " ", startingAt: 0))\(String(format: "%.2fx", appendRatio))
            (\(result.appendRecords) appends from \(result.appendWriters) threads; the two nodes' records form one chain: \
            \(result.postgresChainIntact ? "verified" : "NOT VERIFIED"); failed logins: \
            \(result.sqliteLogins.failures) SQLite, \(result.postgresLogins.failures) PostgreSQL)
            """
    }
}
