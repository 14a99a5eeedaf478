public import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A real rsyslogd receiving on free 127.0.0.1 ports with its own configuration in a temp
/// directory (testing-with-real-programs.md, ecosystem.md §4.6): plain TCP, RFC 5425 TLS with
/// a test CA, and TLS that also demands a client certificate from that CA. Every message is
/// written as `%rawmsg%` (the syslog message without its octet count), one per line.
///
/// It loads no `imuxsock`/`imklog`, so it needs no privilege; as root it runs as `nobody`
/// (started through `setpriv`, which execs, so the PID we hold is rsyslogd's own). It is
/// started with ``ChildSpawner`` (see there why not `Foundation.Process`) and stopped by PID in
/// ``stop()`` or, at the latest, in `deinit`. ``stop()`` then ``start()`` restarts it on the
/// same ports, for outage tests.
public final class RsyslogFixture: Sendable {
    public let directory: TemporaryDirectory
    /// Plain TCP (RFC 6587 octet counting or LF framing).
    public let plainPort: Int
    /// TLS (RFC 5425), server certificate for `localhost` and `127.0.0.1`, no client certificate.
    public let tlsPort: Int
    /// TLS that requires a client certificate signed by the test CA.
    public let mutualTLSPort: Int
    public let certificates: TestCertificates
    /// What rsyslogd printed (startup errors, TLS errors).
    public let logPath: String
    /// The messages, one per line (a benchmark reads it as it grows).
    public let receivedPath: String
    private let configPath: String
    private let pid = Mutex<pid_t?>(nil)

    /// Creates the certificates and configuration and starts rsyslogd. Blocks for up to a few
    /// seconds: from async code use ``start()``.
    public init() throws {
        let directory = try TemporaryDirectory(prefix: "bastion-rsyslog")
        self.directory = directory
        certificates = try TestCertificates(in: directory.path)
        logPath = directory.file("rsyslogd.log")
        receivedPath = directory.file("received.log")
        configPath = directory.file("rsyslog.conf")
        var lastFailure = "rsyslogd did not start"
        for _ in 0..<5 {
            let ports = try (0..<3).map { _ in try SSHDFixture.freePort() }
            guard Set(ports).count == 3 else { continue }
            try Self.configuration(directory: directory, received: receivedPath, certificates: certificates, ports: ports)
                .write(toFile: configPath, atomically: true, encoding: .utf8)
            try Self.handOver(directory.path)
            do {
                let child = try Self.launch(configPath: configPath, directory: directory, logPath: logPath, ports: ports)
                pid.withLock { $0 = child }
                (plainPort, tlsPort, mutualTLSPort) = (ports[0], ports[1], ports[2])
                return
            } catch let failure as SSHDFixture.FixtureError {
                lastFailure = failure.description
                // Another process took a port between our probe and rsyslog's bind: try others.
                if failure.description.contains("in use") || failure.description.contains("did not listen") { continue }
                throw failure
            }
        }
        throw SSHDFixture.FixtureError(lastFailure)
    }

    /// ``init()`` on a thread of its own, off the cooperative pool.
    public static func start() async throws -> RsyslogFixture {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try RsyslogFixture() }) }.start()
        }
    }

    /// Starts rsyslogd again after ``stop()``, on the same ports, appending to the same file.
    public func start() throws {
        guard pid.withLock({ $0 }) == nil else { return }
        // A restarted rsyslogd has now and then sat silent without listening (seen once in
        // CI, empty log); a fresh process has not. Try a few, each stopped by PID on failure.
        var lastError: (any Error)?
        for _ in 0..<3 {
            do {
                let child = try Self.launch(
                    configPath: configPath, directory: directory, logPath: logPath, ports: [plainPort, tlsPort, mutualTLSPort],
                    timeout: Self.restartTimeout
                )
                pid.withLock { $0 = child }
                return
            } catch {
                lastError = error
            }
        }
        throw lastError ?? SSHDFixture.FixtureError("rsyslogd did not restart")
    }

    /// Stops rsyslogd: SIGTERM (it flushes its files), SIGKILL after 3 s. Idempotent.
    public func stop() {
        guard let child = pid.withLock({ current -> pid_t? in
            defer { current = nil }
            return current
        }) else { return }
        ChildSpawner.terminate(child)
    }

    deinit {
        stop()
    }

    /// How many messages have been written so far, counted without loading them (benchmarks
    /// receive hundreds of thousands).
    public func receivedCount() -> Int {
        guard let handle = FileHandle(forReadingAtPath: receivedPath) else { return 0 }
        defer { try? handle.close() }
        var count = 0
        while let chunk = try? handle.read(upToCount: 1 << 20), !chunk.isEmpty {
            count += chunk.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
        }
        return count
    }

    /// The messages received so far, in arrival order, as rsyslog wrote `%rawmsg%`.
    public func received() -> [String] {
        guard let data = FileManager.default.contents(atPath: receivedPath) else { return [] }
        var lines = String(decoding: data, as: UTF8.self).components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// Polls (rsyslog writes asynchronously) until at least `count` messages have arrived or
    /// `timeout` has passed, and returns what arrived. Blocking: call from a thread.
    public func waitForMessages(count: Int, timeout: TimeInterval = 5) -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        var messages = received()
        while messages.count < count, Date() < deadline {
            usleep(20_000)
            messages = received()
        }
        return messages
    }

    /// rsyslogd's PID while it runs.
    public var processID: Int32? { pid.withLock { $0 } }

    /// rsyslogd's own output so far.
    public var log: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    // MARK: - Helpers

    private static func configuration(directory: TemporaryDirectory, received: String, certificates: TestCertificates, ports: [Int]) -> String {
        """
        global(workDirectory="\(directory.path)" maxMessageSize="256k"
               DefaultNetstreamDriverCAFile="\(certificates.caFile)"
               DefaultNetstreamDriverCertFile="\(certificates.serverCertificateFile)"
               DefaultNetstreamDriverKeyFile="\(certificates.serverKeyFile)")
        template(name="raw" type="string" string="%rawmsg%\\n")
        ruleset(name="in") { action(type="omfile" file="\(received)" template="raw") }
        module(load="imtcp" MaxSessions="50")
        input(type="imtcp" address="127.0.0.1" port="\(ports[0])" ruleset="in")
        input(type="imtcp" address="127.0.0.1" port="\(ports[1])" ruleset="in" name="tls"
              StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")
        input(type="imtcp" address="127.0.0.1" port="\(ports[2])" ruleset="in" name="mtls"
              StreamDriver.Name="ossl" StreamDriver.Mode="1" StreamDriver.AuthMode="x509/certvalid")

        """
    }

    /// As root, gives the directory to `nobody`, who runs rsyslogd (it must read the config
    /// and keys and write the received file).
    private static func handOver(_ path: String) throws {
        guard getuid() == 0, let nobody = getpwnam("nobody") else { return }
        let (uid, gid) = (nobody.pointee.pw_uid, nobody.pointee.pw_gid)
        let names = try FileManager.default.contentsOfDirectory(atPath: path)
        for file in [path] + names.map({ path + "/" + $0 }) { chown(file, uid, gid) }
    }

    /// Spawns rsyslogd in the foreground and waits until all three ports accept connections.
    static let startTimeout: TimeInterval = 30
    static let restartTimeout: TimeInterval = 30

    private static func launch(
        configPath: String, directory: TemporaryDirectory, logPath: String, ports: [Int], timeout: TimeInterval = startTimeout
    ) throws -> pid_t {
        var arguments = ["/usr/sbin/rsyslogd", "-n", "-f", configPath, "-i", directory.file("rsyslogd.pid")]
        if getuid() == 0 {
            guard let nobody = getpwnam("nobody") else { throw SSHDFixture.FixtureError("no user nobody to run rsyslogd as") }
            arguments = [
                "/usr/bin/setpriv", "--reuid=\(nobody.pointee.pw_uid)", "--regid=\(nobody.pointee.pw_gid)", "--clear-groups",
            ] + arguments
        }
        // A stale PID file from the previous run makes rsyslogd refuse to start.
        try? FileManager.default.removeItem(atPath: directory.file("rsyslogd.pid"))
        let child = try ChildSpawner.spawn(arguments, output: logPath)
        // A maximum, not a wait: on a loaded 2-core machine (parallel suites, a build) rsyslogd
        // has taken more than 10 s to listen.
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if ChildSpawner.hasExited(child) {
                let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                throw SSHDFixture.FixtureError("rsyslogd exited: \(text)")
            }
            if ports.allSatisfy(isListening) {
                // Listening is not enough: another process may have taken one of the ports between
                // our probe and rsyslog's bind (rsyslog then logs it, skips that input and runs on).
                let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                guard !text.contains("Could not create tcp listener"), !text.contains("Address already in use") else {
                    ChildSpawner.terminate(child)
                    throw SSHDFixture.FixtureError("a port was in use: \(text)")
                }
                return child
            }
            usleep(20_000)
        }
        let silent = ports.filter { !isListening($0) }
        ChildSpawner.terminate(child)
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        // rsyslog reports its own errors as syslog messages: they land in the received file.
        let received = (try? String(contentsOfFile: directory.file("received.log"), encoding: .utf8)) ?? ""
        throw SSHDFixture.FixtureError(
            "rsyslogd did not listen on \(silent) of \(ports) within \(Int(timeout)) s: \(text); last received: \(received.suffix(600))"
        )
    }

    /// Whether something listens on 127.0.0.1:port (read from /proc/net/tcp, not by connecting: a
    /// probe connection would show up in the TLS inputs as a failed handshake).
    private static func isListening(_ port: Int) -> Bool {
        guard let table = try? String(contentsOfFile: "/proc/net/tcp", encoding: .utf8) else { return false }
        let local = String(format: "0100007F:%04X", port)
        // st 0A = TCP_LISTEN
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            return fields.count > 3 && fields[1] == local && fields[3] == "0A"
        }
    }

}
