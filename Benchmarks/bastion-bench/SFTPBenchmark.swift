import Foundation

/// SFTP through each route: `sftp -b` puts one file and gets it back, timed around the `sftp`
/// process (its two key exchanges included: a few milliseconds against seconds of data).
/// Through bastiond the channel is parsed file by file (`file.*` records with the SHA-256 of
/// what crossed), which is what the issue measures against an OpenSSH jump host.
extension RelayBenchmark {
    struct SFTPResult {
        var upload: [RelayClients.Route: Transfer] = [:]
        var download: [RelayClients.Route: Transfer] = [:]
    }

    static func sftpTransfers(
        routes: [RelayClients.Route], clients: RelayClients, meter: CPUMeter, options: BenchOptions, scratch: ScratchDirectory
    ) throws(BenchError) -> SFTPResult {
        let payload = scratch.file("sftp-payload")
        try ProcessLauncher.output(["sh", "-c", "head -c \(options.bulkMiB)M /dev/urandom > \(payload)"], scratch: scratch.path)
        defer { unlink(payload) }
        var result = SFTPResult()
        for round in 1...options.rounds {
            for route in routes {
                let remote = scratch.file("sftp-remote-\(route.hashValue)")
                let back = scratch.file("sftp-back")
                BastionBench.note("round \(round)/\(options.rounds): sftp put \(options.bulkMiB) MiB \(route.rawValue)")
                let up = try meter.measure(route) { () throws(BenchError) in
                    try sftp(clients.sftpArguments(route, batch: scratch.write("sftp-put", "put \(payload) \(remote)\n")), options, scratch)
                }
                result.upload[route] = faster(result.upload[route], up)
                BastionBench.note("round \(round)/\(options.rounds): sftp get \(options.bulkMiB) MiB \(route.rawValue)")
                let down = try meter.measure(route) { () throws(BenchError) in
                    try sftp(clients.sftpArguments(route, batch: scratch.write("sftp-get", "get \(remote) \(back)\n")), options, scratch)
                }
                result.download[route] = faster(result.download[route], down)
                unlink(remote)
                unlink(back)
            }
        }
        return result
    }

    private static func sftp(_ arguments: [String], _ options: BenchOptions, _ scratch: ScratchDirectory) throws(BenchError) -> Transfer {
        let started = ContinuousClock.now
        try ProcessLauncher.output(arguments, scratch: scratch.path)
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Transfer(bytes: options.bulkMiB << 20, seconds: seconds)
    }
}

extension RelayClients {
    /// `sftp -F … -b BATCH DESTINATION` for `route` (no libssh-floor: it relays exec only).
    func sftpArguments(_ route: Route, batch: String) -> [String] {
        switch route {
        case .direct, .libsshFloor:
            ["sftp", "-F", directConfig, "-P", String(targetPort), "-b", batch, "root@127.0.0.1"]
        case .jump:
            ["sftp", "-F", directConfig, "-J", "root@localhost:\(targetPort)", "-P", String(targetPort), "-b", batch, "root@127.0.0.1"]
        case .bastiond:
            ["sftp", "-F", bastiondConfig, "-P", String(bastiondPort), "-b", batch, "root@web01@127.0.0.1"]
        case .bastiondJump:
            ["sftp", "-F", bastiondConfig, "-J", "alice@127.0.0.1:\(bastiondPort)", "-b", batch, "root@web01"]
        }
    }
}
