/// The command line, parsed by hand: the target has no ArgumentParser dependency, and a
/// dozen flat options do not justify adding one.
struct BenchOptions {
    /// Path of the `bastiond` executable to measure.
    var bastiond: String
    /// Logins per side (bastiond, then sshd).
    var logins = 200
    /// Concurrent `ssh` clients per side.
    var concurrency = 8
    /// Certificates per in-process measure.
    var certificates = 2000
    /// The key exchange the clients ask for, `nil` for the client's default list.
    ///
    /// Pinned by default because the servers' defaults differ: OpenSSH 9.x negotiates
    /// sntrup761x25519-sha512 with sshd and curve25519-sha256 with bastiond (libssh has no
    /// sntrup761), and the client's sntrup761 key generation costs several times a whole
    /// curve25519 login. On a small machine that client CPU, not the server, would set sshd's
    /// logins per second. `--kex default` measures the defaults instead.
    var kex: String? = "curve25519-sha256"

    /// Which benchmarks to run: `logins` (certificates and logins, vs sshd), `relay`, or both.
    var suites: Set<String> = ["logins", "relay", "audit", "siem", "search", "backup", "ha", "hostile"]
    /// Records appended and then verified by the audit suite.
    var auditRecords = 1_000_000
    /// Concurrent appending threads in the audit suite (the daemon's connection threads).
    var auditWriters = 64
    /// Which measures the relay suite runs: `upload`, `download`, `latency`, `sessions`
    /// (CPU per new session), `memory` (idle sessions). All by default; a subset makes a quick
    /// profiling run (`--relay-parts upload` while `perf record -p` watches bastiond).
    var relayParts: Set<String> = Self.allRelayParts
    static let allRelayParts: Set<String> = ["upload", "download", "sftp", "streaming", "encryption", "latency", "sessions", "memory"]
    /// MiB per bulk transfer in the relay benchmark.
    var bulkMiB = 500
    /// Bulk transfers per route and direction; the fastest counts.
    var rounds = 2
    /// Keystroke round trips per path.
    var latencySamples = 500
    /// Idle recorded sessions held open at once for the memory measure.
    var idleSessions = 200
    /// Short recorded sessions (`true`) for bastiond's CPU per new session.
    var newSessions = 100
    /// The cipher every hop of the relay benchmark uses (clients and the target sshd are pinned to it).
    var cipher = "aes128-gcm@openssh.com"

    static let usage = """
        usage: bastion-bench --bastiond PATH [--only logins|relay|audit|siem|search|ha|hostile] [--logins N] [--concurrency C] [--certs N]
                             [--relay-parts LIST] [--bulk-mb N] [--rounds N] [--latency-samples N] [--idle-sessions N] [--new-sessions N] [--cipher NAME]
                             [--audit-records N] [--audit-writers N]
          --only SUITE       run only "logins" (certificates/s, logins/s vs sshd), "relay", "audit", "siem", "search", "backup" (1 GiB of recordings: create, verify, drill), "ha" (two nodes on PostgreSQL vs one on SQLite) or "hostile" (floods and bursts, vs sshd)
                             (throughput, latency, memory and CPU of relayed sessions); default all
          --bastiond PATH    bastiond executable to measure (required)
          --logins N         logins per side, through bastiond and through sshd (default 200)
          --concurrency C    concurrent ssh clients (default 8)
          --certs N          certificates per in-process measure (default 2000)
          --kex LIST|default key exchange the ssh clients offer (default curve25519-sha256, which
                             both servers support); "default" leaves the client's own list
          --relay-parts LIST comma-separated relay measures to run: upload, download, sftp (put and get,
                             parsed and audited file by file), streaming, encryption (sealed vs
                             plain recordings), latency, sessions, memory (default all)
          --bulk-mb N        MiB per bulk transfer, direct / ssh -J / bastiond (default 500)
          --rounds N         bulk transfers per route and direction, the fastest counts (default 2)
          --latency-samples N keystroke round trips per path (default 500)
          --idle-sessions N  idle recorded sessions held open through bastiond (default 200)
          --new-sessions N   short recorded sessions for bastiond CPU per session (default 100)
          --cipher NAME      cipher on every hop of the relay benchmark (default aes128-gcm@openssh.com;
                             chacha20-poly1305@openssh.com is the other fast one both sides have)
          --audit-records N  records appended then verified by the audit suite (default 1000000)
          --audit-writers N  concurrent appending threads in the audit suite (default 64)
        """

    /// Parses `arguments` (without the program name); `nil` means `--help` was asked for.
    static func parse(_ arguments: [String]) throws(BenchError) -> BenchOptions? {
        var bastiond: String?
        var options = BenchOptions(bastiond: "")
        var rest = arguments[...]
        while let argument = rest.popFirst() {
            let (name, inlineValue) = split(argument)
            func value() throws(BenchError) -> String {
                if let inlineValue { return inlineValue }
                guard let next = rest.popFirst() else { throw BenchError("\(name) needs a value\n\(usage)") }
                return next
            }
            switch name {
            case "--help", "-h": return nil
            case "--bastiond": bastiond = try value()
            case "--logins": options.logins = try positive(name, try value())
            case "--concurrency": options.concurrency = try positive(name, try value())
            case "--certs": options.certificates = try positive(name, try value())
            case "--only":
                let suite = try value()
                guard ["logins", "relay", "audit", "siem", "search", "backup", "ha", "hostile"].contains(suite) else {
                    throw BenchError("--only takes logins, relay, audit, siem, search, ha or hostile, not '\(suite)'")
                }
                options.suites = [suite]
            case "--audit-records": options.auditRecords = try positive(name, try value())
            case "--audit-writers": options.auditWriters = try positive(name, try value())
            case "--relay-parts":
                let parts = Set(try value().split(separator: ",").map(String.init))
                guard !parts.isEmpty, parts.isSubset(of: allRelayParts) else {
                    throw BenchError("--relay-parts takes a list of \(allRelayParts.sorted().joined(separator: ", "))")
                }
                options.relayParts = parts
            case "--bulk-mb": options.bulkMiB = try positive(name, try value())
            case "--rounds": options.rounds = try positive(name, try value())
            case "--latency-samples": options.latencySamples = try positive(name, try value())
            case "--idle-sessions": options.idleSessions = try positive(name, try value())
            case "--new-sessions": options.newSessions = try positive(name, try value())
            case "--cipher": options.cipher = try value()
            case "--kex":
                let kex = try value()
                options.kex = kex == "default" ? nil : kex
            default: throw BenchError("unknown argument '\(argument)'\n\(usage)")
            }
        }
        guard let bastiond, !bastiond.isEmpty else { throw BenchError("--bastiond PATH is required\n\(usage)") }
        options.bastiond = bastiond
        return options
    }

    /// `--name=value` or `--name`.
    private static func split(_ argument: String) -> (String, String?) {
        guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }

    private static func positive(_ name: String, _ text: String) throws(BenchError) -> Int {
        guard let number = Int(text), number > 0 else { throw BenchError("\(name) must be a positive integer, got '\(text)'") }
        return number
    }
}
