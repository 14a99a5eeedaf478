import Foundation

/// `bastion-bench`: the numbers behind `make bench`.
///
/// Prints certificates per second in-process, then logins per second and server CPU seconds
/// per login through bastiond and through OpenSSH's sshd, driven by the same concurrent
/// OpenSSH clients with the same certificate, and the ratio of the two. Then the relay
/// benchmark (`RelayBenchmark`): throughput, keystroke latency, memory and CPU of sessions
/// relayed to a loopback sshd, against the same sshd reached directly and through `ssh -J`.
/// Exits 1 if any login or relayed session failed, so a broken build cannot pass as a fast
/// one; a missed performance goal is printed, not an error.
///
/// Everything it starts is stopped by PID and its scratch directory removed, on success and
/// on failure alike (each `defer` sits right after the thing it undoes). It never calls
/// `exit` while those are pending: `run` returns first.
@main
enum BastionBench {
    static func main() {
        let status: Int32
        do {
            status = try run()
        } catch {
            FileHandle.standardError.write(Data("bastion-bench: \(error)\n".utf8))
            status = 1
        }
        exit(status)
    }

    static func run() throws -> Int32 {
        guard let options = try BenchOptions.parse(Array(CommandLine.arguments.dropFirst())) else {
            print(BenchOptions.usage)
            return 0
        }
        let bastiondPath = try executable(options.bastiond)
        try requireTools(["ssh", "ssh-keygen", "oathtool"])

        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let identity = scratch.file("alice")
        try ProcessLauncher.output(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "alice@bench", "-f", identity], scratch: scratch.path)
        let publicKey = try scratch.read("alice.pub").trimmingCharacters(in: .whitespacesAndNewlines)

        let bastion = try BastiondTarget.configure(executable: bastiondPath, scratch: scratch)
        let secret = try bastion.enroll(user: "alice", publicKey: publicKey)
        var status: Int32 = 0
        var certificate: String?
        if options.suites.contains("logins") {
            let (loginStatus, fetched) = try runLogins(options: options, bastion: bastion, identity: identity, secret: secret, scratch: scratch)
            status = max(status, loginStatus)
            certificate = fetched
        }
        if options.suites.contains("relay") {
            if options.suites.count > 1 { print("") }
            let relay = try RelayBenchmark.run(
                options: options, scratch: scratch, bastion: bastion, identity: identity, certificate: certificate, totpSecret: secret
            )
            print(RelayReport.render(relay, options: options))
            if let cpu = relay.cpu, cpu.failures > 0 || cpu.recordings < cpu.sessions {
                note("relay: \(cpu.failures) failed session(s), \(cpu.recordings) recording(s) for \(cpu.sessions) sessions"
                    + (cpu.firstFailure.map { "; first failure: \($0)" } ?? ""))
                status = 1
            }
        }
        if options.suites.contains("audit") {
            if options.suites.count > 1 { print("") }
            note("audit log: \(options.auditRecords) durable appends from \(options.auditWriters) threads, then a full verification")
            let audit = try AuditBenchmark.run(records: options.auditRecords, writers: options.auditWriters, scratch: scratch)
            print(AuditBenchmark.render(audit))
            if !audit.intact {
                note("audit: the chain did not verify after the benchmark's appends")
                status = 1
            }
        }
        if options.suites.contains("siem") {
            if options.suites.count > 1 { print("") }
            note("SIEM: a 10-minute outage backlog drained to a local rsyslog")
            let siem = try SIEMBenchmark.run(records: 120_000, scratch: scratch)
            print(SIEMBenchmark.render(siem))
        }
        if options.suites.contains("search") {
            if options.suites.count > 1 { print("") }
            note("auditors' search: 10,000 recorded sessions indexed, then word queries")
            let search = try SearchBenchmark.run(sessions: 10_000, scratch: scratch)
            print(SearchBenchmark.render(search))
        }
        if options.suites.contains("backup") {
            if options.suites.count > 1 { print("") }
            note("backups: 1 GiB of sealed recordings backed up, verified and drilled")
            print(BackupBenchmark.render(try BackupBenchmark.run(mebibytes: 1_024, scratch: scratch)))
        }
        if options.suites.contains("ha") {
            if options.suites.count > 1 { print("") }
            note("several nodes: two bastiond on one PostgreSQL (durable) vs one on SQLite")
            let ha = try HABenchmark.run(options: options, bastion: bastion, identity: identity, publicKey: publicKey, secret: secret, scratch: scratch)
            print(HABenchmark.render(ha))
            if ha.sqliteLogins.failures + ha.postgresLogins.failures > 0 || !ha.postgresChainIntact {
                note("ha: failed logins, or the two nodes' audit chain did not verify")
                if let failure = ha.postgresLogins.firstFailure ?? ha.sqliteLogins.firstFailure { note("first failure: \(failure)") }
                status = 1
            }
        }
        if options.suites.contains("hostile") {
            if options.suites.count > 1 { print("") }
            var certificatePath = certificate
            if certificatePath == nil {
                let daemon = try bastion.start()
                defer { stop(daemon) }
                certificatePath = try bastion.fetchCertificate(user: "alice", identity: identity, totpSecret: secret)
            }
            let hostile = try HostileBenchmark.run(bastion: bastion, identity: identity, certificate: certificatePath!, kex: options.kex, scratch: scratch)
            print(HostileBenchmark.render(hostile))
            if !HostileBenchmark.metGoals(hostile) { note("hostile: bastiond missed a goal (see the table)") }
            if hostile.bastiond.flood.failures + hostile.bastiond.burst.failures > 0 { status = 1 }
        }
        return status
    }

    /// Certificates/s in-process, then logins through bastiond and through sshd; the exit
    /// status (1 if any login failed) and the certificate fetched on the way.
    private static func runLogins(
        options: BenchOptions, bastion: BastiondTarget, identity: String, secret: String, scratch: ScratchDirectory
    ) throws -> (Int32, String) {
        note("in-process certificate issuance, \(options.certificates) per measure")
        let certificates = try CertificateBenchmark.run(count: options.certificates)

        let certificate: String
        let throughBastiond: LoginLoad.Measurement
        do {
            let daemon = try bastion.start()
            defer { stop(daemon) }
            certificate = try bastion.fetchCertificate(user: "alice", identity: identity, totpSecret: secret)
            let login = SSHClient.arguments(
                port: bastion.sshPort, destination: "alice@127.0.0.1", command: "whoami", identity: identity, certificate: certificate,
                kex: options.kex
            )
            note("bastiond on 127.0.0.1:\(bastion.sshPort): \(options.logins) logins, \(options.concurrency) concurrent")
            throughBastiond = try measure(login, daemon: daemon, scope: .selfOnly, options: options, scratch: scratch)
        }

        var openSSH = try OpenSSHTarget.configure(scratch: scratch, trustedUserCA: bastion.userCAPublicKeyPath, principal: "alice")
        let throughSSHD: LoginLoad.Measurement
        do {
            let daemon = try openSSH.start(login: "root")
            defer { stop(daemon) }
            let login = SSHClient.arguments(
                port: openSSH.port, destination: "root@127.0.0.1", command: "true", identity: identity, certificate: certificate,
                kex: options.kex
            )
            note("sshd on 127.0.0.1:\(openSSH.port): \(options.logins) logins, \(options.concurrency) concurrent")
            throughSSHD = try measure(login, daemon: daemon, scope: .includingReapedChildren, options: options, scratch: scratch)
        }

        print(ReportTable.render(certificates: certificates, options: options, bastiond: throughBastiond, sshd: throughSSHD))
        print("(server CPU only: the ssh clients' own CPU is not counted on either side; bastiond runs `whoami`, sshd runs `true`)")
        if let hidden = openSSH.hiddenStartupFile {
            print("(sshd ran in a private mount namespace with \(hidden) hidden, so root's shell start-up is not measured)")
        } else {
            note("sshd's logins run root's shell start-up files; a heavy ~/.bashrc inflates sshd's numbers")
        }
        for (name, measurement) in [("bastiond", throughBastiond), ("sshd", throughSSHD)] {
            if let failure = measurement.firstFailure { note("\(name): first failed login: \(failure)") }
        }
        return (throughBastiond.failures == 0 && throughSSHD.failures == 0 ? 0 : 1, certificate)
    }

    /// One probe login that must succeed, then the measured run.
    private static func measure(
        _ login: [String], daemon: Daemon, scope: ProcessCPU.Scope, options: BenchOptions, scratch: ScratchDirectory
    ) throws(BenchError) -> LoginLoad.Measurement {
        do {
            try LoginLoad.probe(login, scratch: scratch)
        } catch {
            throw BenchError("probe login through \(daemon.name) failed: \(error)\n\(daemon.name) log:\n\(daemon.logTail())")
        }
        return try LoginLoad.run(
            login, count: options.logins, concurrency: options.concurrency, scratch: scratch,
            serverCPU: { () throws(BenchError) in try ProcessCPU.seconds(of: daemon.pid, scope) },
            settle: { ProcessCPU.settle(daemon.pid) }
        )
    }

    /// Stops a daemon and reports what its log holds: at the levels configured, every line is
    /// a warning or an error worth a look.
    static func stop(_ daemon: Daemon) {
        if !daemon.stop() { note("\(daemon.name) ignored SIGTERM for 5 s and was killed") }
        let lines = daemon.logLines()
        guard !lines.isEmpty else { return }
        note("\(daemon.name) logged \(lines.count) line(s) at warning level or above; first ones:")
        for line in lines.prefix(5) { note("  " + line) }
    }

    /// The absolute path of `path`, which must be an executable file.
    private static func executable(_ path: String) throws(BenchError) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        guard FileManager.default.isExecutableFile(atPath: absolute) else {
            throw BenchError("\(path) is not an executable file (build it: swift build -c release --product bastiond)")
        }
        return (absolute as NSString).standardizingPath
    }

    /// Fails early, naming the Debian package, rather than counting every login as failed.
    private static func requireTools(_ names: [String]) throws(BenchError) {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        let missing = names.filter { name in
            !directories.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(name)") }
        }
        guard missing.isEmpty else {
            throw BenchError("not found in PATH: \(missing.joined(separator: ", ")) (Debian: openssh-client, oathtool)")
        }
    }

    /// Progress and diagnostics go to stderr; stdout holds only the table.
    static func note(_ message: String) {
        FileHandle.standardError.write(Data("bastion-bench: \(message)\n".utf8))
    }
}
