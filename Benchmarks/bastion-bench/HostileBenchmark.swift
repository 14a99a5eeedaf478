import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `make bench`'s `hostile` suite: bastiond and OpenSSH's sshd side by side under the same
/// attacks, from the same clients.
///
/// - A flood of 2,000 idle, banner-only and key-exchange-stalled connections from 40 loopback
///   sources, held open while legitimate certificate logins from 127.0.0.1 are timed one after
///   another (p50, p99, failures); the server's threads (bastiond) or processes (sshd) and
///   memory at the flood's peak and 5 s after it ends.
/// - 200 concurrent certificate logins from one address: failures and wall time, against sshd
///   with its default `MaxStartups 10:30:100` and with it raised to `200:30:400` (the usual fix
///   for Ansible).
///
/// - 10,000 connect/disconnect cycles: bastiond's threads, descriptors and memory before and after.
///
/// Goals (issue 15): 0 failed legitimate logins; login p99 during the flood ≤ 2 s; 0 failures
/// in the burst; fewer than 300 bastiond threads at the flood's peak.
enum HostileBenchmark {
    struct Flood {
        var latencies: [Double]
        var failures: Int
        var firstFailure: String?
        var peak: Usage
        var after: Usage

        func percentile(_ p: Double) -> Double {
            guard !latencies.isEmpty else { return .nan }
            let sorted = latencies.sorted()
            return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
        }
    }

    /// Threads (bastiond) or processes (sshd and its children), and resident memory in MiB.
    struct Usage {
        var tasks: Int
        var rssMiB: Double
    }

    struct Side {
        var flood: Flood
        var burst: LoginLoad.Measurement
    }

    /// bastiond before and after `cycles` connect/disconnect cycles (after a first batch).
    struct Cycles {
        var cycles: Int
        var before: (usage: Usage, descriptors: Int)
        var after: (usage: Usage, descriptors: Int)
    }

    struct Result {
        var cycles: Cycles
        var bastiond: Side
        var sshdDefault: Side
        var sshdRaisedBurst: LoginLoad.Measurement
    }

    static let floodConnections = 2_000
    static let floodSources = 40
    static let loginsDuringFlood = 20
    static let burst = 200
    static let connectCycles = 10_000

    static func run(bastion: BastiondTarget, identity: String, certificate: String, kex: String?, scratch: ScratchDirectory) throws -> Result {
        let bastiondSide: Side
        var cycles: Cycles
        do {
            let daemon = try bastion.start()
            defer { BastionBench.stop(daemon) }
            let login = SSHClient.arguments(
                port: bastion.sshPort, destination: "alice@127.0.0.1", command: "whoami", identity: identity, certificate: certificate, kex: kex
            )
            BastionBench.note("bastiond: \(floodConnections)-connection flood from \(floodSources) sources, \(loginsDuringFlood) timed logins")
            let flood = try measureFlood(port: bastion.sshPort, login: login, usage: { threads(of: daemon.pid) }, scratch: scratch)
            try settle(port: bastion.sshPort)
            BastionBench.note("bastiond: \(burst) concurrent logins from one address")
            let burstLoad = try LoginLoad.run(login, count: burst, concurrency: burst, scratch: scratch, serverCPU: { 0 }, settle: {})
            bastiondSide = Side(flood: flood, burst: burstLoad)
            BastionBench.note("bastiond: \(connectCycles) connect/disconnect cycles from 50 sources")
            cycles = measureCycles(port: bastion.sshPort, pid: daemon.pid)
        }
        func sshdSide(_ maxStartups: String, flood floodToo: Bool) throws -> (Flood?, LoginLoad.Measurement) {
            var sshd = try OpenSSHTarget.configure(
                scratch: scratch, name: "sshd-hostile-\(maxStartups.replacingOccurrences(of: ":", with: "-"))",
                trustedUserCAs: [bastion.userCAPublicKeyPath], principals: ["root": ["alice"]],
                extraConfig: ["MaxStartups \(maxStartups)"]
            )
            let daemon = try sshd.start(login: "root")
            defer { BastionBench.stop(daemon) }
            let login = SSHClient.arguments(
                port: sshd.port, destination: "root@127.0.0.1", command: "true", identity: identity, certificate: certificate, kex: kex
            )
            var flood: Flood?
            if floodToo {
                BastionBench.note("sshd (MaxStartups \(maxStartups)): the same flood and logins")
                flood = try measureFlood(port: sshd.port, login: login, usage: { processes(under: daemon.pid) }, scratch: scratch)
                try settle(port: sshd.port)
            }
            BastionBench.note("sshd (MaxStartups \(maxStartups)): \(burst) concurrent logins from one address")
            let burstLoad = try LoginLoad.run(login, count: burst, concurrency: burst, scratch: scratch, serverCPU: { 0 }, settle: {})
            return (flood, burstLoad)
        }
        let defaults = try sshdSide("10:30:100", flood: true)
        let raised = try sshdSide("200:30:400", flood: false)
        return Result(cycles: cycles, bastiond: bastiondSide, sshdDefault: Side(flood: defaults.0!, burst: defaults.1), sshdRaisedBurst: raised.1)
    }

    /// Opens the flood, times the logins during it, samples usage at its peak, closes it and
    /// samples again 5 s later.
    private static func measureFlood(port: Int, login: [String], usage: () -> Usage, scratch: ScratchDirectory) throws -> Flood {
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        for index in 0..<floodConnections {
            let source = "127.0.\(20 + index / 250).\(index % floodSources + 1)"
            guard let fd = connect(port: port, from: source) else { continue }
            sockets.append(fd)
        }
        usleep(500_000)
        let banner = Array("SSH-2.0-Flood_1.0\r\n".utf8)
        let stalledKexinit: [UInt8] = [0, 0, 1, 0, 6, 20, 1, 2, 3, 4]
        for (index, fd) in sockets.enumerated() where index % 3 != 0 {
            let bytes = index % 3 == 1 ? banner : banner + stalledKexinit
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        }
        usleep(1_500_000)  // the flood's handshakes are now stalled
        var latencies: [Double] = []
        var failures = 0
        var firstFailure: String?
        var peak = usage()
        for _ in 0..<loginsDuringFlood {
            let errorPath = scratch.file("hostile-login.err")
            let started = ContinuousClock.now
            let status = try ProcessLauncher.run(login, stderr: .file(errorPath))
            let seconds = (ContinuousClock.now - started).seconds
            if status == 0 {
                latencies.append(seconds)
            } else {
                failures += 1
                if firstFailure == nil { firstFailure = (try? String(contentsOfFile: errorPath, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) }
            }
            let now = usage()
            peak = Usage(tasks: max(peak.tasks, now.tasks), rssMiB: max(peak.rssMiB, now.rssMiB))
        }
        sockets.forEach { close($0) }
        sockets = []
        sleep(5)
        return Flood(latencies: latencies, failures: failures, firstFailure: firstFailure, peak: peak, after: usage())
    }

    /// Connect/disconnect cycles (half of them sending a banner first): a first batch of 1,000
    /// brings the allocator and the runtime to their working size, then `connectCycles` more.
    private static func measureCycles(port: Int, pid: pid_t) -> Cycles {
        func batch(_ count: Int) {
            for cycle in 0..<count {
                guard let fd = connect(port: port, from: "127.0.30.\(cycle % 50 + 1)") else { continue }
                if cycle % 2 == 0 {
                    usleep(200)
                    _ = Array("SSH-2.0-Cycle\r\n".utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                }
                close(fd)
            }
            sleep(5)
        }
        func descriptors() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1 }
        batch(1_000)
        let before = (threads(of: pid), descriptors())
        batch(connectCycles)
        return Cycles(cycles: connectCycles, before: before, after: (threads(of: pid), descriptors()))
    }

    /// A non-blocking TCP connection to 127.0.0.1:`port` from `source`.
    private static func connect(port: Int, from source: String) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(source)
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = in_port_t(UInt16(port).bigEndian)
        remote.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, connected == 0 || errno == EINPROGRESS else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Lets the server finish with the flood's connections before the next measure.
    private static func settle(port: Int) throws {
        sleep(2)
    }

    private static func threads(of pid: pid_t) -> Usage {
        Usage(tasks: status(pid, "Threads"), rssMiB: Double(status(pid, "VmRSS")) / 1024)
    }

    /// sshd forks a process per connection: count them, and add up their memory.
    private static func processes(under pid: pid_t) -> Usage {
        var tasks = 1
        var rss = status(pid, "VmRSS")
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let child = Int32(entry), child != pid,
                let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == pid else { continue }
            tasks += 1
            rss += status(child, "VmRSS")
        }
        return Usage(tasks: tasks, rssMiB: Double(rss) / 1024)
    }

    private static func status(_ pid: pid_t, _ field: String) -> Int {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").first { $0.hasPrefix(field + ":") }?
            .split(whereSeparator: \.isWhitespace).dropFirst().first.flatMap { Int($0) } ?? 0
    }

    static func render(_ result: Result) -> String {
        func flood(_ side: Flood) -> [String] {
            func seconds(_ value: Double) -> String { value.isNaN ? "no login" : String(format: "%.3f s", value) }
            return [
                seconds(side.percentile(0.5)), seconds(side.percentile(0.99)),
                "\(side.failures) of \(loginsDuringFlood)", "\(side.peak.tasks)", String(format: "%.0f MiB", side.peak.rssMiB),
                "\(side.after.tasks)", String(format: "%.0f MiB", side.after.rssMiB),
            ]
        }
        func burstText(_ load: LoginLoad.Measurement) -> String { "\(load.failures) of \(load.logins) failed, \(String(format: "%.1f", load.wallSeconds)) s" }
        let labels = [
            "login p50 during flood", "login p99 during flood (goal <= 2 s)", "failed logins during flood (goal 0)",
            "threads/processes at flood peak (goal < 300)", "memory at flood peak", "threads/processes 5 s after", "memory 5 s after",
        ]
        let bastiond = flood(result.bastiond.flood)
        let sshd = flood(result.sshdDefault.flood)
        var lines = [
            "Hostile load: \(floodConnections) idle/banner-only/stalled connections from \(floodSources) sources; certificate logins from 127.0.0.1",
            "".padding(toLength: 46, withPad: " ", startingAt: 0) + "bastiond".padding(toLength: 18, withPad: " ", startingAt: 0) + "sshd (MaxStartups 10:30:100)",
        ]
        for (index, label) in labels.enumerated() {
            lines.append(
                label.padding(toLength: 46, withPad: " ", startingAt: 0) + bastiond[index].padding(toLength: 18, withPad: " ", startingAt: 0) + sshd[index]
            )
        }
        lines.append("\(burst) concurrent logins from one address (goal 0 failures):")
        lines.append("  bastiond (defaults):            " + burstText(result.bastiond.burst))
        lines.append("  sshd MaxStartups 10:30:100:     " + burstText(result.sshdDefault.burst))
        lines.append("  sshd MaxStartups 200:30:400:    " + burstText(result.sshdRaisedBurst))
        let c = result.cycles
        lines.append(
            "bastiond across \(c.cycles) connect/disconnect cycles: threads \(c.before.usage.tasks) -> \(c.after.usage.tasks), "
                + "descriptors \(c.before.descriptors) -> \(c.after.descriptors), "
                + String(format: "memory %.0f -> %.0f MiB", c.before.usage.rssMiB, c.after.usage.rssMiB)
        )
        if let failure = result.bastiond.flood.firstFailure { lines.append("bastiond's first failed login during the flood: \(failure)") }
        if let failure = result.bastiond.burst.firstFailure { lines.append("bastiond's first failed login in the burst: \(failure)") }
        lines.append("(sshd forks a process per connection: its column counts processes; bastiond's counts threads)")
        return lines.joined(separator: "\n")
    }

    /// Whether bastiond met every goal.
    static func metGoals(_ result: Result) -> Bool {
        let flood = result.bastiond.flood
        return flood.failures == 0 && flood.percentile(0.99) <= 2 && result.bastiond.burst.failures == 0 && flood.peak.tasks < 300
    }
}
