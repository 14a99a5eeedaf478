import BastionTesting
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Relayed sessions, side by side against one loopback sshd (the "target"): bulk throughput
/// direct / through OpenSSH as a jump host / through bastiond with recording; keystroke round
/// trips; bastiond's resident memory per idle recorded session; bastiond's CPU per new
/// recorded session.
///
/// The target sshd trusts two CAs: bastiond's upstream CA (for the per-session certificates
/// bastiond presents) and a CA the benchmark makes, which signs alice's key for `root` so that
/// the direct and jump routes log in with the same key. Every hop is pinned to one cipher and
/// key exchange: the clients by their config files, bastiond's upstream hop by the target
/// sshd's `Ciphers` and `KexAlgorithms` (bastiond offers several).
enum RelayBenchmark {
    struct Transfer {
        var bytes: Int
        var seconds: Double
        /// CPU seconds each party spent on the whole transfer (session set-up included).
        var cpu: TransferCPU?
        var mebibytesPerSecond: Double { Double(bytes) / 1_048_576 / seconds }
    }

    /// Where a transfer's CPU went: on a 2-core machine the sum over the processes, not any
    /// one of them, is what caps a relayed route (every byte is encrypted and decrypted twice
    /// more than on the direct route).
    struct TransferCPU {
        /// The benchmark's children: `ssh` (and `ssh -J`'s second `ssh`) plus `head` on upload.
        var client: Double
        /// The relaying process (bastiond, libssh-floor), on its route only.
        var relay: Double?
        /// The target sshd with its reaped children: session processes, shell and command.
        var target: Double
        var total: Double { client + (relay ?? 0) + target }
    }

    struct Latency {
        /// Round trips in milliseconds, in the order measured.
        var milliseconds: [Double]

        func percentile(_ fraction: Double) -> Double {
            let sorted = milliseconds.sorted()
            guard !sorted.isEmpty else { return .nan }
            // Nearest rank.
            let rank = Int((fraction * Double(sorted.count)).rounded(.up))
            return sorted[min(max(rank, 1), sorted.count) - 1]
        }
    }

    struct Memory {
        var sessions: Int
        var baselineKiB: Int
        var loadedKiB: Int
        /// After every idle session ended: what bastiond keeps (allocator caches, or leaks).
        var afterKiB: Int
        var baselineThreads: Int
        var loadedThreads: Int
        var perSessionKiB: Double { Double(loadedKiB - baselineKiB) / Double(sessions) }
    }

    struct SessionCPU {
        var sessions: Int
        var failures: Int
        var cpuSeconds: Double
        var wallSeconds: Double
        var recordings: Int
        var firstFailure: String?
        var millisecondsPerSession: Double { cpuSeconds * 1000 / Double(sessions) }
    }

    /// Per-session CPU of the same sessions without Bastion (see ``referenceSessions``).
    struct SessionCPUReferences {
        var libsshFloor: LoginLoad.Measurement
        var sshdDirect: LoginLoad.Measurement
    }

    struct Result {
        var upload: [RelayClients.Route: Transfer] = [:]
        var download: [RelayClients.Route: Transfer] = [:]
        var latency: [RelayClients.Route: Latency] = [:]
        var cpu: SessionCPU?
        var cpuReferences: SessionCPUReferences?
        /// bastiond's CPU per session over libssh-floor's, one per round (the two run in turn).
        var cpuRoundRatios: [Double] = []
        var memory: Memory?
        /// Recorded downloads through bastiond without and with a sink streaming the session live.
        var streaming: (plain: Transfer, streamed: Transfer, messages: Int)?
        /// Recorded downloads through bastiond with recordings sealed (the default) and plain.
        var encryption: (sealed: Transfer, plain: Transfer)?
        /// `sftp` put and get per route, parsed file by file through bastiond.
        var sftp: SFTPResult?
        var upstreamCipher = "?"
        var hiddenStartupFile: String?
        /// /proc/loadavg's 1-minute figure before and after: the machine may be shared.
        var loadAverage = (start: "?", end: "?")
    }

    static func loadAverage() -> String {
        ChildProcess.text("/proc/loadavg").split(separator: " ").first.map(String.init) ?? "?"
    }

    /// Round trips before the measured ones (first-use costs: page faults, the PTY's first writes).
    static let latencyWarmUp = 20
    /// Pause between keystrokes: far below a typist's, enough that each one is a lone packet.
    static let keystrokeGap: useconds_t = 2_000
    /// Idle sessions started at once; the next batch waits until these are all established.
    static let idleBatch = 20
    static let routes: [RelayClients.Route] = [.direct, .jump, .bastiond]
    /// Bulk routes: also bastiond through `ssh -J` (recorded the same way).
    static let bulkRoutes: [RelayClients.Route] = routes + [.bastiondJump]

    /// Sets up the target sshd and a relaying bastiond, runs every measure, stops both.
    ///
    /// - Parameter certificate: alice's bastiond certificate if one was fetched already (a
    ///   second fetch within the same 30 s TOTP step would be refused as a replayed code).
    static func run(
        options: BenchOptions, scratch: ScratchDirectory, bastion: BastiondTarget, identity: String,
        certificate existing: String?, totpSecret: String
    ) throws -> Result {
        // A write to a pipe whose reader died must fail with EPIPE, not kill the benchmark.
        signal(SIGPIPE, SIG_IGN)
        var result = Result()
        result.loadAverage.start = loadAverage()

        let parts = options.relayParts
        // The benchmark's own CA signs alice's key for root: the credential of the direct and jump routes.
        let benchCA = scratch.file("bench_user_ca")
        try ProcessLauncher.output(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench-user-ca", "-f", benchCA], scratch: scratch.path)
        let directKey = try scratch.write("direct-alice.pub", try scratch.read((identity as NSString).lastPathComponent + ".pub"))
        try ProcessLauncher.output(
            ["ssh-keygen", "-q", "-s", benchCA, "-I", "bench", "-n", "root", "-V", "-5m:+2h", directKey], scratch: scratch.path
        )
        let directCertificate = scratch.file("direct-alice-cert.pub")

        var targetExtra = [
            "Subsystem sftp internal-sftp",
            "AllowTcpForwarding yes",
            "PrintMotd no",
            "PrintLastLog no",
            // Every idle session is one authenticated connection; only unauthenticated ones count here.
            "MaxStartups 200:30:1000",
            "MaxSessions 100",
            "Ciphers \(options.cipher)",
        ]
        if let kex = options.kex { targetExtra.append("KexAlgorithms \(kex)") }
        var target = try OpenSSHTarget.configure(
            scratch: scratch, name: "target-sshd", trustedUserCAs: [bastion.upstreamCAPublicKeyPath, benchCA + ".pub"],
            principals: ["root": ["root"]], extraConfig: targetExtra
        )
        let targetDaemon = try target.start(login: "root")
        defer { BastionBench.stop(targetDaemon) }
        result.hiddenStartupFile = target.hiddenStartupFile

        let recordings = scratch.file("recordings")
        let relay = try bastion.relaying(to: target, recordings: recordings)
        let daemon = try relay.start()
        defer { BastionBench.stop(daemon) }

        let certificate = try existing ?? relay.fetchCertificate(user: "alice", identity: identity, totpSecret: totpSecret)
        var clients = RelayClients(
            directConfig: try scratch.write("client-direct.conf", RelayClients.configText(
                identity: identity, certificate: directCertificate, cipher: options.cipher, kex: options.kex
            )),
            bastiondConfig: try scratch.write("client-bastiond.conf", RelayClients.configText(
                identity: identity, certificate: certificate, cipher: options.cipher, kex: options.kex
            )),
            targetPort: target.port, bastiondPort: relay.sshPort
        )

        // One session per route must work before anything is measured.
        for route in bulkRoutes {
            let output: String
            do {
                output = try ProcessLauncher.output(clients.arguments(route, command: "echo relay-ok"), scratch: scratch.path)
            } catch {
                throw BenchError("probe session \(route.rawValue) failed: \(error)\n\(daemon.name) log:\n\(daemon.logTail())\n"
                    + "\(targetDaemon.name) log:\n\(targetDaemon.logTail())")
            }
            guard output.trimmingCharacters(in: .whitespacesAndNewlines) == "relay-ok" else {
                throw BenchError("probe session \(route.rawValue) printed \(output.debugDescription), not relay-ok")
            }
        }
        result.upstreamCipher = options.cipher

        // libssh alone on the same route, for scale: upload, download and per-session CPU.
        var floor: Daemon?
        defer { floor.map { BastionBench.stop($0) } }
        if parts.contains("upload") || parts.contains("download") || parts.contains("sessions") {
            let started = try LibSSHFloor.start(
                targetPort: target.port, identity: identity, certificate: directCertificate, scratch: scratch
            )
            floor = started.daemon
            clients.floorPort = started.port
            try LoginLoad.probe(clients.arguments(.libsshFloor, command: "true"), scratch: scratch)
        }

        // Routes in turn, each round: the best of the rounds counts (the machine is shared).
        var relays = [RelayClients.Route.bastiond: daemon.pid, .bastiondJump: daemon.pid]
        relays[.libsshFloor] = floor?.pid
        let meter = CPUMeter(relays: relays, recordings: [.bastiond: recordings, .bastiondJump: recordings], target: targetDaemon.pid)
        let uploadRoutes = routes + (floor == nil ? [] : [.libsshFloor])
        // The floor's download is not recorded: it is what relaying alone costs in libssh.
        let downloadRoutes = bulkRoutes + (floor == nil ? [] : [.libsshFloor])
        for round in 1...options.rounds {
            for route in uploadRoutes where parts.contains("upload") {
                BastionBench.note("round \(round)/\(options.rounds): bulk upload \(options.bulkMiB) MiB \(route.rawValue)")
                let transfer = try meter.measure(route) { () throws(BenchError) in
                    try upload(clients.arguments(route, command: uploadCommand), mebibytes: options.bulkMiB, scratch: scratch)
                }
                result.upload[route] = faster(result.upload[route], transfer)
            }
            for route in downloadRoutes where parts.contains("download") {
                BastionBench.note("round \(round)/\(options.rounds): bulk download \(options.bulkMiB) MiB \(route.rawValue)")
                let transfer = try meter.measure(route) { () throws(BenchError) in
                    try download(
                        clients.arguments(route, command: downloadCommand(mebibytes: options.bulkMiB)), mebibytes: options.bulkMiB,
                        scratch: scratch
                    )
                }
                result.download[route] = faster(result.download[route], transfer)
                // The meter waited for bastiond to seal the recording; drop the file: it is as
                // big as the download.
                removeRecordings(in: recordings)
            }
        }
        if parts.contains("sftp") {
            result.sftp = try sftpTransfers(routes: bulkRoutes, clients: clients, meter: meter, options: options, scratch: scratch)
        }
        if parts.contains("streaming") {
            result.streaming = try streamingComparison(
                options: options, bastion: bastion, target: target, clients: clients, recordings: recordings, scratch: scratch
            )
        }
        if parts.contains("encryption") {
            result.encryption = try encryptionComparison(
                options: options, bastion: bastion, target: target, targetPID: targetDaemon.pid, daemon: daemon, clients: clients,
                recordings: recordings, scratch: scratch
            )
        }
        if parts.contains("latency") {
            BastionBench.note("keystroke round trips: \(options.latencySamples) per route, routes in turn")
            result.latency = try latencies(routes, clients: clients, samples: options.latencySamples, scratch: scratch)
        }
        if parts.contains("sessions") {
            // bastiond and libssh-floor in turn, each round: on a shared 2-core machine one
            // pair of runs moves ±15%, so every round's ratio is kept and the median judged.
            var floorBest: LoginLoad.Measurement?
            for round in 1...options.rounds {
                BastionBench.note("round \(round)/\(options.rounds): new sessions")
                let cpu = try newSessions(options: options, clients: clients, daemon: daemon, recordings: recordings, scratch: scratch)
                if result.cpu.map({ cpu.millisecondsPerSession < $0.millisecondsPerSession }) ?? true { result.cpu = cpu }
                guard let floor else { continue }
                let reference = try floorSessions(options: options, clients: clients, floor: floor, scratch: scratch)
                if floorBest.map({ reference.cpuSecondsPerLogin < $0.cpuSecondsPerLogin }) ?? true { floorBest = reference }
                result.cpuRoundRatios.append(cpu.millisecondsPerSession / (reference.cpuSecondsPerLogin * 1000))
            }
            if let floorBest {
                result.cpuReferences = SessionCPUReferences(
                    libsshFloor: floorBest, sshdDirect: try directSessions(options: options, clients: clients, target: targetDaemon, scratch: scratch)
                )
            }
        }
        if parts.contains("memory") {
            BastionBench.note("idle recorded sessions through bastiond: \(options.idleSessions)")
            result.memory = try idleMemory(clients: clients, count: options.idleSessions, daemon: daemon, scratch: scratch)
        }
        result.loadAverage.end = loadAverage()
        return result
    }

    /// bastiond's CPU per new recorded session: `ssh … true` through bastiond, a few at a time.
    private static func newSessions(
        options: BenchOptions, clients: RelayClients, daemon: Daemon, recordings: String, scratch: ScratchDirectory
    ) throws(BenchError) -> SessionCPU {
        BastionBench.note("new recorded sessions through bastiond: \(options.newSessions), \(min(options.concurrency, 4)) concurrent")
        try waitUntilRecordingsClosed(in: recordings)
        let closedBefore = recordingCounts(in: recordings).closed
        let load = try LoginLoad.run(
            clients.arguments(.bastiond, command: "true"), count: options.newSessions, concurrency: min(options.concurrency, 4),
            scratch: scratch,
            serverCPU: { () throws(BenchError) in try ProcessCPU.seconds(of: daemon.pid, .selfOnly) },
            // bastiond closes the recording (fsync, SHA-256) after the client has gone: its
            // cost belongs to the session. Every recording was opened before its session ran.
            settle: { () throws(BenchError) in try waitUntilRecordingsClosed(in: recordings) }
        )
        let closed = recordingCounts(in: recordings).closed - closedBefore
        // Failed sessions are reported as such (and may have been recorded); a session that
        // succeeded without a closed recording is not what was measured.
        let succeeded = load.logins - load.failures
        guard closed >= succeeded else {
            throw BenchError("new sessions: \(closed) recordings closed for \(succeeded) successful sessions; no CPU-per-session figure")
        }
        return SessionCPU(
            sessions: load.logins, failures: load.failures, cpuSeconds: load.serverCPUSeconds, wallSeconds: load.wallSeconds,
            recordings: closed, firstFailure: load.firstFailure
        )
    }

    /// The same `ssh … true` sessions without bastiond, for scale: relayed by `libssh-floor`
    /// (libssh's two key exchanges, authentications and channels, none of Bastion's work).
    private static func floorSessions(
        options: BenchOptions, clients: RelayClients, floor: Daemon, scratch: ScratchDirectory
    ) throws(BenchError) -> LoginLoad.Measurement {
        let concurrency = min(options.concurrency, 4)
        BastionBench.note("the same sessions relayed by libssh alone (libssh-floor): \(options.newSessions), \(concurrency) concurrent")
        return try LoginLoad.run(
            clients.arguments(.libsshFloor, command: "true"), count: options.newSessions, concurrency: concurrency, scratch: scratch,
            serverCPU: { () throws(BenchError) in try ProcessCPU.seconds(of: floor.pid, .selfOnly) },
            settle: { usleep(200_000) }
        )
    }

    /// The same sessions straight to the target's sshd (OpenSSH's cost for one connection).
    private static func directSessions(
        options: BenchOptions, clients: RelayClients, target: Daemon, scratch: ScratchDirectory
    ) throws(BenchError) -> LoginLoad.Measurement {
        let concurrency = min(options.concurrency, 4)
        BastionBench.note("the same sessions straight to the target sshd: \(options.newSessions), \(concurrency) concurrent")
        return try LoginLoad.run(
            clients.arguments(.direct, command: "true"), count: options.newSessions, concurrency: concurrency, scratch: scratch,
            serverCPU: { () throws(BenchError) in try ProcessCPU.seconds(of: target.pid, .includingReapedChildren) },
            settle: { ProcessCPU.settle(target.pid) }
        )
    }

    /// Reads each party's CPU time around one transfer.
    struct CPUMeter {
        /// The relaying process of each relayed route (bastiond, libssh-floor); `ssh -J` relays in the target sshd.
        let relays: [RelayClients.Route: pid_t]
        /// Where a recording route's relay writes its recordings.
        let recordings: [RelayClients.Route: String]
        let target: pid_t

        func measure(_ route: RelayClients.Route, _ transfer: () throws(BenchError) -> Transfer) throws(BenchError) -> Transfer {
            let relay = relays[route]
            // An earlier session still closing would be counted in this transfer.
            if let directory = recordings[route] { try RelayBenchmark.waitUntilRecordingsClosed(in: directory) }
            let closedBefore = recordings[route].map { RelayBenchmark.recordingCounts(in: $0).closed }
            let before = try readings(relay: relay)
            var result = try transfer()
            // bastiond seals the recording (flush, fsync, SHA-256 of the whole file) after the
            // client has gone: that is part of the transfer's cost, so read its CPU after.
            if let directory = recordings[route], let closedBefore {
                try RelayBenchmark.waitUntilRecordingsClosed(in: directory)
                let closed = RelayBenchmark.recordingCounts(in: directory).closed - closedBefore
                guard closed == 1 else { throw BenchError("\(route.rawValue) transfer: \(closed) recordings closed in \(directory), not 1") }
            }
            // sshd's session processes reach its cutime only once reaped.
            ProcessCPU.settle(target)
            let after = try readings(relay: relay)
            result.cpu = TransferCPU(
                client: after.client - before.client,
                relay: relay == nil ? nil : after.relay - before.relay,
                target: after.target - before.target
            )
            return result
        }

        private func readings(relay: pid_t?) throws(BenchError) -> (client: Double, relay: Double, target: Double) {
            var usage = rusage()
            getrusage(RUSAGE_CHILDREN.rawValue, &usage)
            let client = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
                + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
            return (
                client, try relay.map { pid throws(BenchError) in try ProcessCPU.seconds(of: pid, .selfOnly) } ?? 0,
                try ProcessCPU.seconds(of: target, .includingReapedChildren)
            )
        }
    }

    // MARK: - Bulk

    /// Runs on the target: times its own read of stdin (so the two key exchanges and the
    /// upstream connect are not in the number) and prints `BYTES NANOSECONDS`.
    static let uploadCommand = "s=$(date +%s%N); n=$(wc -c); e=$(date +%s%N); echo \"$n $((e - s))\""

    /// Printable bytes, so that the recording is of ordinary terminal output.
    /// The same recorded download through bastiond with no sink, then through a second
    /// bastiond (same data, same target) whose sink streams sessions live to a local rsyslog.
    static func streamingComparison(
        options: BenchOptions, bastion: BastiondTarget, target: OpenSSHTarget, clients: RelayClients, recordings: String, scratch: ScratchDirectory
    ) throws -> (plain: Transfer, streamed: Transfer, messages: Int) {
        let rsyslog = try RsyslogFixture()
        defer { rsyslog.stop() }
        let streamedRecordings = scratch.file("recordings-streamed")
        let streamed = try bastion.relaying(to: target, recordings: streamedRecordings, name: "bastiond-streaming", extra: """
            [[siem.sinks]]
            name = "soc"
            kind = "syslog"
            address = "127.0.0.1:\(rsyslog.plainPort)"
            events = ["session.*"]
            stream_sessions = true

            """)
        let daemon = try streamed.start()
        defer { BastionBench.stop(daemon) }
        let streamedClients = RelayClients(
            directConfig: clients.directConfig, bastiondConfig: clients.bastiondConfig, targetPort: clients.targetPort,
            bastiondPort: streamed.sshPort
        )
        var plain: Transfer?
        var live: Transfer?
        let command = downloadCommand(mebibytes: options.bulkMiB)
        for round in 1...options.rounds {
            BastionBench.note("round \(round)/\(options.rounds): recorded download \(options.bulkMiB) MiB, streaming off then on")
            plain = faster(plain, try download(clients.arguments(.bastiond, command: command), mebibytes: options.bulkMiB, scratch: scratch))
            try waitUntilRecordingsClosed(in: recordings)
            removeRecordings(in: recordings)
            live = faster(live, try download(streamedClients.arguments(.bastiond, command: command), mebibytes: options.bulkMiB, scratch: scratch))
            try waitUntilRecordingsClosed(in: streamedRecordings)
        }
        guard let plain, let live else { throw BenchError("no streaming measure") }
        // Proof that the sessions were streamed (the sink catches up after the transfers).
        var messages = 0
        for _ in 0..<100 {
            messages = rsyslog.receivedCount()
            if messages > 0 { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return (plain, live, messages)
    }

    /// The same recorded download through the sealing bastiond and through a second one with
    /// `recording.encrypt = false`, rounds interleaved; bastiond's CPU counted on each.
    static func encryptionComparison(
        options: BenchOptions, bastion: BastiondTarget, target: OpenSSHTarget, targetPID: pid_t, daemon sealing: Daemon, clients: RelayClients,
        recordings: String, scratch: ScratchDirectory
    ) throws -> (sealed: Transfer, plain: Transfer) {
        let plainRecordings = scratch.file("recordings-plain")
        let plainTarget = try bastion.relaying(to: target, recordings: plainRecordings, name: "bastiond-plain", encrypt: false)
        let plainDaemon = try plainTarget.start()
        defer { BastionBench.stop(plainDaemon) }
        let plainClients = RelayClients(
            directConfig: clients.directConfig, bastiondConfig: clients.bastiondConfig, targetPort: clients.targetPort,
            bastiondPort: plainTarget.sshPort
        )
        let sealedMeter = CPUMeter(relays: [.bastiond: sealing.pid], recordings: [.bastiond: recordings], target: targetPID)
        let plainMeter = CPUMeter(relays: [.bastiond: plainDaemon.pid], recordings: [.bastiond: plainRecordings], target: targetPID)
        var sealed: Transfer?
        var plain: Transfer?
        let command = downloadCommand(mebibytes: options.bulkMiB)
        for round in 1...options.rounds {
            BastionBench.note("round \(round)/\(options.rounds): recorded download \(options.bulkMiB) MiB, recordings sealed then plain")
            sealed = faster(sealed, try sealedMeter.measure(.bastiond) { () throws(BenchError) in
                try download(clients.arguments(.bastiond, command: command), mebibytes: options.bulkMiB, scratch: scratch)
            })
            removeRecordings(in: recordings)
            plain = faster(plain, try plainMeter.measure(.bastiond) { () throws(BenchError) in
                try download(plainClients.arguments(.bastiond, command: command), mebibytes: options.bulkMiB, scratch: scratch)
            })
            removeRecordings(in: plainRecordings)
        }
        guard let sealed, let plain else { throw BenchError("no encryption measure") }
        return (sealed, plain)
    }

    static func downloadCommand(mebibytes: Int) -> String {
        "yes 0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ | head -c \(mebibytes)M"
    }

    /// `head -c NM /dev/zero | ssh … uploadCommand`, timed by the target.
    static func upload(_ arguments: [String], mebibytes: Int, scratch: ScratchDirectory) throws(BenchError) -> Transfer {
        let pipe = try BenchPipe()
        let outPath = scratch.file("upload.out")
        let errPath = scratch.file("upload.err")
        let head = try ProcessLauncher.spawn(["head", "-c", "\(mebibytes)M", "/dev/zero"], stdout: .descriptor(pipe.writeEnd))
        let ssh: pid_t
        do {
            ssh = try ProcessLauncher.spawn(arguments, stdin: .descriptor(pipe.readEnd), stdout: .file(outPath), stderr: .file(errPath))
        } catch {
            ChildProcess.stopAll([head])
            throw error
        }
        pipe.closeRead()
        pipe.closeWrite()
        let deadline = ContinuousClock.now + transferTimeout(mebibytes)
        let sshStatus = ChildProcess.wait(ssh, until: deadline)
        let headStatus = ChildProcess.wait(head, until: ContinuousClock.now + .seconds(5))
        guard let sshStatus else { throw BenchError("upload did not finish within \(transferTimeout(mebibytes))") }
        guard sshStatus == 0 else { throw BenchError("upload: ssh exited with \(sshStatus): \(ChildProcess.text(errPath))") }
        guard headStatus == 0 else { throw BenchError("upload: head exited with \(headStatus.map(String.init) ?? "timeout")") }
        let fields = ChildProcess.text(outPath).split(separator: " ")
        guard fields.count == 2, let bytes = Int(fields[0]), let nanoseconds = Double(fields[1]), nanoseconds > 0 else {
            throw BenchError("upload: the target printed \(ChildProcess.text(outPath).debugDescription), not BYTES NANOSECONDS")
        }
        guard bytes == mebibytes << 20 else { throw BenchError("upload: the target received \(bytes) bytes of \(mebibytes << 20)") }
        return Transfer(bytes: bytes, seconds: nanoseconds / 1e9)
    }

    /// `ssh … downloadCommand > pipe`, timed here from the first byte to EOF, every byte counted.
    static func download(_ arguments: [String], mebibytes: Int, scratch: ScratchDirectory) throws(BenchError) -> Transfer {
        let pipe = try BenchPipe()
        let errPath = scratch.file("download.err")
        let ssh = try ProcessLauncher.spawn(arguments, stdout: .descriptor(pipe.writeEnd), stderr: .file(errPath))
        pipe.closeWrite()
        let deadline = ContinuousClock.now + transferTimeout(mebibytes)
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var bytes = 0
        var first: ContinuousClock.Instant?
        var last = ContinuousClock.now
        while true {
            guard pipe.waitReadable(timeout: deadline - ContinuousClock.now) else {
                ChildProcess.stopAll([ssh])
                throw BenchError("download did not finish within \(transferTimeout(mebibytes))")
            }
            let count = buffer.withUnsafeMutableBytes { read(pipe.readEnd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            last = ContinuousClock.now
            if first == nil { first = last }
            bytes += count
        }
        let status = ChildProcess.wait(ssh, until: ContinuousClock.now + .seconds(10))
        guard status == 0 else { throw BenchError("download: ssh exited with \(status.map(String.init) ?? "timeout"): \(ChildProcess.text(errPath))") }
        guard bytes == mebibytes << 20, let first else { throw BenchError("download: received \(bytes) bytes of \(mebibytes << 20)") }
        return Transfer(bytes: bytes, seconds: (last - first).seconds)
    }

    static func faster(_ best: Transfer?, _ new: Transfer) -> Transfer {
        guard let best, best.mebibytesPerSecond >= new.mebibytesPerSecond else { return new }
        return best
    }

    /// A minute plus 5 s per 25 MiB (a 5 MiB/s floor: far below anything working).
    private static func transferTimeout(_ mebibytes: Int) -> Duration { .seconds(60 + mebibytes / 5) }

    // MARK: - Latency

    /// One PTY session per route, each running `stty raw -echo; echo READY; exec cat`, all
    /// open at once; keystrokes go to them in turn (the first route rotating), so that a burst
    /// of load from elsewhere on the machine falls on every route alike.
    static func latencies(
        _ routes: [RelayClients.Route], clients: RelayClients, samples: Int, scratch: ScratchDirectory
    ) throws(BenchError) -> [RelayClients.Route: Latency] {
        var sessions: [KeystrokeSession] = []
        defer { sessions.forEach { $0.close() } }
        for route in routes {
            sessions.append(try KeystrokeSession(
                clients.arguments(route, command: "stty raw -echo; echo READY; exec cat", tty: true),
                name: route.rawValue, errorPath: scratch.file("latency-\(sessions.count).err")
            ))
        }
        var milliseconds = [[Double]](repeating: [], count: routes.count)
        for index in 0..<(latencyWarmUp + samples) {
            let byte = UInt8(ascii: "a") + UInt8(index % 26)
            for offset in 0..<routes.count {
                let which = (index + offset) % routes.count
                let roundTrip = try sessions[which].roundTrip(byte, index: index)
                if index >= latencyWarmUp { milliseconds[which].append(roundTrip) }
                usleep(keystrokeGap)
            }
        }
        var result: [RelayClients.Route: Latency] = [:]
        for (which, route) in routes.enumerated() { result[route] = Latency(milliseconds: milliseconds[which]) }
        return result
    }

    /// `ssh -tt … 'stty raw -echo; echo READY; exec cat'` with pipes on both ends.
    final class KeystrokeSession {
        let name: String
        let errorPath: String
        private let input: BenchPipe
        private let output: BenchPipe
        private var pid: pid_t?

        init(_ arguments: [String], name: String, errorPath: String) throws(BenchError) {
            self.name = name
            self.errorPath = errorPath
            input = try BenchPipe()
            output = try BenchPipe()
            pid = try ProcessLauncher.spawn(
                arguments, stdin: .descriptor(input.readEnd), stdout: .descriptor(output.writeEnd), stderr: .file(errorPath)
            )
            input.closeRead()
            output.closeWrite()
            do {
                try waitUntilReady()
            } catch {
                close()
                throw error
            }
        }

        /// Reads up to READY: the terminal is raw from then on, so every later byte is cat's copy.
        private func waitUntilReady() throws(BenchError) {
            var seen: [UInt8] = []
            let ready = Array("READY".utf8)
            let deadline = ContinuousClock.now + .seconds(20)
            var chunk = [UInt8](repeating: 0, count: 4096)
            while !seen.contains(ready) {
                guard output.waitReadable(timeout: deadline - ContinuousClock.now) else { throw failure("no READY within 20 s") }
                let count = chunk.withUnsafeMutableBytes { read(output.readEnd, $0.baseAddress, $0.count) }
                guard count > 0 else { throw failure("ended before READY (got \(String(decoding: seen, as: UTF8.self).debugDescription))") }
                seen += chunk[0..<count]
            }
            // The rest of that line.
            usleep(200_000)
            while output.waitReadable(timeout: .zero) {
                guard chunk.withUnsafeMutableBytes({ read(output.readEnd, $0.baseAddress, $0.count) }) > 0 else {
                    throw failure("ended after READY")
                }
            }
        }

        /// Writes `byte`, waits (at most 5 s) for it to come back; milliseconds.
        func roundTrip(_ byte: UInt8, index: Int) throws(BenchError) -> Double {
            var sent = byte
            let start = ContinuousClock.now
            guard write(input.writeEnd, &sent, 1) == 1 else { throw failure("write failed: \(String(cString: strerror(errno)))") }
            var echoed: UInt8 = 0
            guard output.waitReadable(timeout: .seconds(5)) else { throw failure("keystroke \(index) not echoed within 5 s") }
            guard read(output.readEnd, &echoed, 1) == 1 else { throw failure("ended at keystroke \(index)") }
            let elapsed = ContinuousClock.now - start
            guard echoed == byte else { throw failure("sent \(byte), got \(echoed) back") }
            return elapsed.seconds * 1000
        }

        func close() {
            input.closeWrite()
            if let pid { ChildProcess.stopAll([pid]) }
            pid = nil
        }

        private func failure(_ what: String) -> BenchError {
            BenchError("keystroke session \(name): \(what); ssh stderr: \(ChildProcess.text(errorPath))")
        }
    }

    // MARK: - Memory

    /// Holds `count` PTY sessions (`echo up; exec sleep`) open through bastiond, all reading
    /// one pipe nobody writes to; bastiond's VmRSS once they are all up and it is stable,
    /// minus its VmRSS before.
    static func idleMemory(clients: RelayClients, count: Int, daemon: Daemon, scratch: ScratchDirectory) throws(BenchError) -> Memory {
        usleep(1_000_000)
        let baselineKiB = try stableResidentKiB(daemon.pid)
        let baselineThreads = try ChildProcess.threads(daemon.pid)
        let stdin = try BenchPipe()
        var clientsStarted: [pid_t] = []
        defer {
            stdin.closeWrite()
            ChildProcess.stopAll(clientsStarted, grace: .seconds(5))
        }
        let arguments = clients.arguments(.bastiond, command: "echo up; exec sleep 3600", tty: true)
        var next = 0
        while next < count {
            let batch = next..<min(next + idleBatch, count)
            for index in batch {
                clientsStarted.append(try ProcessLauncher.spawn(
                    arguments, stdin: .descriptor(stdin.readEnd),
                    stdout: .file(scratch.file("idle-\(index).out")), stderr: .file(scratch.file("idle-\(index).err"))
                ))
            }
            let deadline = ContinuousClock.now + .seconds(60)
            var waiting = Array(batch)
            while !waiting.isEmpty {
                for index in waiting where ProcessLauncher.poll(clientsStarted[index]) != nil {
                    throw BenchError("idle session \(index) ended: \(ChildProcess.text(scratch.file("idle-\(index).err")))\n"
                        + "\(daemon.name) log:\n\(daemon.logTail())")
                }
                waiting.removeAll { ChildProcess.text(scratch.file("idle-\($0).out")).contains("up") }
                guard ContinuousClock.now < deadline else {
                    throw BenchError("\(waiting.count) idle sessions not up within 60 s (\(next) were)")
                }
                if !waiting.isEmpty { usleep(20_000) }
            }
            next = batch.upperBound
        }
        stdin.closeRead()
        let loadedKiB = try stableResidentKiB(daemon.pid)
        let loadedThreads = try ChildProcess.threads(daemon.pid)
        let ended = clientsStarted.indices.filter { ProcessLauncher.poll(clientsStarted[$0]) != nil }
        guard ended.isEmpty else { throw BenchError("\(ended.count) idle sessions ended while being measured") }

        ChildProcess.stopAll(clientsStarted, grace: .seconds(5))
        clientsStarted = []
        // bastiond notices the closed connections, closes recordings and upstream sessions.
        usleep(2_000_000)
        let afterKiB = try stableResidentKiB(daemon.pid)
        return Memory(
            sessions: count, baselineKiB: baselineKiB, loadedKiB: loadedKiB, afterKiB: afterKiB,
            baselineThreads: baselineThreads, loadedThreads: loadedThreads
        )
    }

    /// VmRSS once two readings 500 ms apart differ by less than 64 KiB (at most 10 s).
    private static func stableResidentKiB(_ pid: pid_t) throws(BenchError) -> Int {
        var previous = try ChildProcess.residentKiB(pid)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            usleep(500_000)
            let current = try ChildProcess.residentKiB(pid)
            if abs(current - previous) < 64 { return current }
            previous = current
        }
        return previous
    }

    // MARK: - Recordings

    private static func recordingFiles(in directory: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        return walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".cast") }.map { directory + "/" + $0 }
    }

    /// Recordings in `directory`: closed ones (a `.cast` without its `.cast.open` marker, which
    /// bastiond removes last, after fsync and hashing) and open ones.
    static func recordingCounts(in directory: String) -> (closed: Int, open: Int) {
        let files = Set(FileManager.default.enumerator(atPath: directory)?.compactMap { $0 as? String } ?? [])
        let casts = files.filter { $0.hasSuffix(".cast") }
        return (casts.filter { !files.contains($0 + ".open") }.count, files.filter { $0.hasSuffix(".cast.open") }.count)
    }

    /// Waits (at most a minute) until bastiond has closed every recording in `directory`.
    static func waitUntilRecordingsClosed(in directory: String) throws(BenchError) {
        let deadline = ContinuousClock.now + .seconds(60)
        while recordingCounts(in: directory).open > 0 {
            guard ContinuousClock.now < deadline else {
                throw BenchError("\(recordingCounts(in: directory).open) recordings in \(directory) still open after 60 s")
            }
            usleep(20_000)
        }
    }

    private static func removeRecordings(in directory: String) {
        for path in recordingFiles(in: directory) { unlink(path) }
    }
}
