import BastionApp
import BastionCore
import BastionTesting
import Foundation
import Logging
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Reload plan, journald lines, sd_notify")
struct ReloadAndSystemdTests {
    static let base = """
        [ssh]
        listen = "127.0.0.1:2222"
        [roles.ops]
        targets = ["web*"]
        logins = ["root"]
        [targets.web01]
        address = "10.0.0.1:22"
        host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
        """

    static func plan(_ new: String) throws -> ReloadPlan {
        ReloadPlan(from: try BastionConfiguration.parse(base, file: "old.toml"), to: try BastionConfiguration.parse(new, file: "new.toml"))
    }

    @Test("roles, targets and the log level apply in place; any other section waits for a restart and says which")
    func plan() throws {
        let same = try Self.plan(Self.base)
        #expect(same.changesNothing && same.restartNeeded.isEmpty && same.details.isEmpty)

        let changed = try Self.plan(Self.base.replacingOccurrences(of: #"targets = ["web*"]"#, with: #"targets = ["web02"]"#) + """

            [roles.audit]
            max_cert_ttl = "1h"
            [log]
            level = "debug"
            """)
        #expect(changed.policy.roles.modified == ["ops"] && changed.policy.roles.added == ["audit"])
        #expect(changed.logLevel == "debug" && changed.restartNeeded.isEmpty && !changed.changesNothing)
        #expect(changed.summary == "roles +1 -0 ~1, targets +0 -0 ~0, log level debug")

        let listener = try Self.plan(Self.base.replacingOccurrences(of: "127.0.0.1:2222", with: "127.0.0.1:2223") + "\n[sessions]\nidle_timeout = \"5m\"\n")
        #expect(listener.changesNothing && listener.restartNeeded == ["[ssh]", "[sessions]"])
        #expect(listener.details == ["restart_needed": "[ssh],[sessions]"])
        #expect(listener.summary.hasSuffix("[ssh], [sessions] changed: not applied until bastiond restarts"))

        // Sinks and webhooks apply in place; the rest of [siem] waits.
        let sink = "\n[[siem.sinks]]\nname = \"archive\"\nkind = \"file\"\npath = \"/tmp/a\"\n"
        let sinks = try Self.plan(Self.base + sink)
        #expect(sinks.sinks.added == ["archive"] && sinks.restartNeeded.isEmpty && !sinks.changesNothing)
        #expect(sinks.details == ["sinks_added": "archive"] && sinks.summary.contains("SIEM sinks +1 -0 ~0"))
        let installation = try Self.plan(Self.base + "\n[siem]\ninstallation = \"other\"\n")
        #expect(installation.restartNeeded == ["[siem]"] && installation.changesNothing)
    }

    @Test("under journald each line starts with its syslog priority and has no timestamp; elsewhere a timestamp and the level")
    func journalLines() {
        func line(_ level: Logger.Level, journal: Bool) -> String {
            DaemonLogHandler.line(
                event: LogEvent(level: level, message: "session ended\nforged: line", metadata: ["session": "s1"], source: "t", file: "f", function: "g", line: 1),
                label: "bastiond", metadata: ["node": "a"], journal: journal, time: "2026-12-07T10:00:00Z"
            )
        }
        #expect(line(.error, journal: true) == "<3>bastiond: session ended forged: line node=a session=s1")
        #expect([Logger.Level.trace, .debug, .info, .notice, .warning, .error, .critical].map(DaemonLogHandler.priority(of:)) == [7, 7, 6, 5, 4, 3, 2])
        #expect(line(.warning, journal: false) == "2026-12-07T10:00:00Z warning bastiond: session ended forged: line node=a session=s1")
        // Only when standard error is the stream systemd named (device:inode).
        let pipe = Pipe()
        var status = stat()
        fstat(pipe.fileHandleForWriting.fileDescriptor, &status)
        let named = ["JOURNAL_STREAM": "\(status.st_dev):\(status.st_ino)"]
        #expect(DaemonLogHandler.writesToJournal(named, standardError: pipe.fileHandleForWriting.fileDescriptor))
        #expect(!DaemonLogHandler.writesToJournal(["JOURNAL_STREAM": "8:12345"], standardError: pipe.fileHandleForWriting.fileDescriptor))
        #expect(!DaemonLogHandler.writesToJournal([:], standardError: pipe.fileHandleForWriting.fileDescriptor))
    }

    @Test("a reload may change the level every logger reads")
    func levelSwitch() {
        let level = LogLevelSwitch(.info)
        let logger = Logger(label: "t") { DaemonLogHandler(label: $0, level: level, journal: true) }
        #expect(logger.logLevel == .info)
        level.current = .debug
        #expect(logger.logLevel == .debug)
    }

    @Test("sd_notify: one datagram of KEY=VALUE lines to $NOTIFY_SOCKET, a path or an abstract name")
    func notify() throws {
        let directory = try TemporaryDirectory(prefix: "notify")
        for name in [directory.file("notify"), "@bastion-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"] {
            let receiver = try DatagramReceiver(name: name)
            defer { receiver.close() }
            let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": name, "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "\(getpid())"]))
            #expect(notifier.watchdogInterval == 4)
            #expect(notifier.send(["READY=1", "STATUS=ready: two\nlines"]))
            #expect(receiver.receive(timeout: 2) == "READY=1\nSTATUS=ready: two lines")
        }
        #expect(SystemdNotifier(environment: [:]) == nil)
        // A watchdog meant for another process (WATCHDOG_PID) is not ours to feed.
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"])?.watchdogInterval == nil)
        // systemd gone: the send says so instead of blocking or crashing.
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": directory.file("gone")])?.send(["READY=1"]) == false)
    }

    @Test("the watchdog pings while the checks pass, falls silent while one fails (systemd then restarts bastiond), resumes after")
    func watchdog() async throws {
        let directory = try TemporaryDirectory(prefix: "watchdog")
        let receiver = try DatagramReceiver(name: directory.file("notify"))
        defer { receiver.close() }
        let systemd = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": directory.file("notify")]))
        let healthy = Mutex(true)
        let logger = Logger(label: "t") { _ in SwiftLogNoOpLogHandler() }
        // WatchdogSec = 0.4 s: a ping every 0.2 s.
        let watchdog = SystemdWatchdog(systemd: systemd, interval: 0.4, logger: logger) {
            let ok = healthy.withLock { $0 }
            return (ok, ok ? "ready" : "unhealthy (store does not answer)")
        }
        let stop = Mutex(false)
        let thread = Thread { watchdog.pingLoop(until: { stop.withLock { $0 } }) }
        thread.start()
        defer { stop.withLock { $0 = true } }
        func pings(during seconds: Double) async throws -> [String] {
            try await offPool {
                var seen: [String] = []
                let deadline = Date().addingTimeInterval(seconds)
                while Date() < deadline {
                    if let message = receiver.receive(timeout: 0.05) { seen.append(message) }
                }
                return seen
            }
        }
        // The first ping tells the group runs (a loaded machine may take a while to start it).
        let first = try await offPool { receiver.receive(timeout: 20) }
        #expect(first == "WATCHDOG=1\nSTATUS=ready")
        let alive = try await pings(during: 1.5)
        #expect(alive.count >= 3 && alive.allSatisfy { $0 == "WATCHDOG=1\nSTATUS=ready" }, "\(alive)")
        healthy.withLock { $0 = false }
        _ = try await pings(during: 0.3)  // a ping already on its way
        let silent = try await pings(during: 1.2)
        #expect(silent.isEmpty, "pinged while unhealthy: \(silent)")
        healthy.withLock { $0 = true }
        let again = try await pings(during: 1)
        #expect(!again.isEmpty, "no ping after recovery")
    }
}
