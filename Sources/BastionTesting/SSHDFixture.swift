public import BastionCore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A real OpenSSH sshd playing a target host: its own Ed25519 host key, trusting only the
/// given CA for user certificates, on a free 127.0.0.1 port (testing-with-real-programs.md).
///
/// Needs root (sshd's privilege separation) and /usr/sbin/sshd. The daemon is stopped by PID
/// in ``stop()`` or, at the latest, in `deinit`; the directory with its key, config and log
/// goes with the fixture.
///
/// sshd is started with ``ChildSpawner`` (posix_spawn), not `Foundation.Process`: see there why.
public final class SSHDFixture: Sendable {
    public let directory: TemporaryDirectory
    public let port: Int
    /// The host key sshd presents (pin this).
    public let hostKey: SSHPublicKey
    /// sshd's stderr at LogLevel VERBOSE ("Accepted certificate ID …").
    public let logPath: String
    /// sshd's PID (the listener; per-connection children are its own).
    public let pid: Int32

    private let stopped = Mutex(false)

    /// Starts sshd and waits until it answers with an SSH identification line.
    ///
    /// - Parameters:
    ///   - trustedCA: the only CA whose user certificates sshd accepts (`TrustedUserCAKeys`).
    ///   - logins: accounts that accept a certificate whose principal is the login's own name.
    ///   - extraConfig: more sshd_config lines, e.g. `RekeyLimit 5M`.
    /// Blocks for up to a few seconds: from async code use ``start(trustedCA:logins:extraConfig:)``.
    /// - Parameter firstPort: the port to try first instead of a free one (the fixture's own
    ///   test: a port another sshd holds must be noticed and another one tried).
    public init(trustedCA: SSHPublicKey, logins: [String] = ["root"], extraConfig: [String] = [], firstPort: Int? = nil) throws {
        let directory = try TemporaryDirectory(prefix: "bastion-sshd")
        try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true)
        let hostKeyPath = directory.file("hostkey")
        let keygen = try ProcessRunner.runBlocking(
            "ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "sshd-fixture", "-f", hostKeyPath], timeout: 20
        )
        guard keygen.status == 0 else { throw FixtureError("ssh-keygen failed: \(keygen)") }
        let hostKey = try SSHPublicKey(authorizedKeysLine: try String(contentsOfFile: hostKeyPath + ".pub", encoding: .utf8))
        try (trustedCA.authorizedKeysLine + "\n").write(toFile: directory.file("trusted_ca.pub"), atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: directory.file("principals"), withIntermediateDirectories: true)
        for login in logins {
            try (login + "\n").write(toFile: directory.file("principals/\(login)"), atomically: true, encoding: .utf8)
        }
        let logPath = directory.file("sshd.log")

        var lastFailure = "sshd did not start"
        for attempt in 0..<5 {
            let port = try attempt == 0 ? firstPort ?? Self.freePort() : Self.freePort()
            let configPath = directory.file("sshd.conf")
            try Self.configuration(port: port, directory: directory, extra: extraConfig)
                .write(toFile: configPath, atomically: true, encoding: .utf8)
            let sshd = ["/usr/sbin/sshd", "-D", "-e", "-f", configPath]
            let pid = try ChildSpawner.spawn(Self.hidingShellStartupFiles(of: logins, in: directory, sshd), output: logPath)
            switch Self.waitUntilReady(pid: pid, port: port, logPath: logPath, timeout: 10) {
            case .ready:
                self.directory = directory
                self.port = port
                self.hostKey = hostKey
                self.logPath = logPath
                self.pid = pid
                return
            case .exited:
                let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                lastFailure = "sshd exited: \(text)"
                // Another process took the port between our probe and sshd's bind: try another.
                if text.contains("Address already in use") || text.contains("Cannot bind any address") { continue }
                throw FixtureError(lastFailure)
            case .timedOut:
                ChildSpawner.terminate(pid)
                throw FixtureError("sshd on port \(port) did not answer within 10 s")
            }
        }
        throw FixtureError(lastFailure)
    }

    /// ``init(trustedCA:logins:extraConfig:)`` on a thread of its own, off the cooperative pool.
    public static func start(
        trustedCA: SSHPublicKey, logins: [String] = ["root"], extraConfig: [String] = [], firstPort: Int? = nil
    ) async throws -> SSHDFixture {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result {
                    try SSHDFixture(trustedCA: trustedCA, logins: logins, extraConfig: extraConfig, firstPort: firstPort)
                })
            }
            thread.start()
        }
    }

    /// The log so far.
    public var log: String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// Stops sshd: SIGTERM, then SIGKILL after 3 s. Idempotent. Sessions already forked keep
    /// running until their connection closes, as with a real sshd restart.
    public func stop() {
        let first = stopped.withLock { stopped in
            defer { stopped = true }
            return !stopped
        }
        if first { ChildSpawner.terminate(pid) }
    }

    deinit {
        stop()
    }

    // MARK: - Helpers

    /// `command` with the logins' `~/.bashrc` hidden (``ShellStartupFiles``), so that this
    /// host's shell start-up neither prints into test sessions nor slows them.
    private static func hidingShellStartupFiles(of logins: [String], in directory: TemporaryDirectory, _ command: [String]) -> [String] {
        let files = ShellStartupFiles.bashrc(of: logins)
        let empty = directory.file("empty-bashrc")
        guard !files.isEmpty, FileManager.default.createFile(atPath: empty, contents: nil, attributes: [.posixPermissions: 0o644]) else {
            return command
        }
        return ShellStartupFiles.hiding(files, behind: empty, command)
    }

    /// The fixture's sshd_config. `extra` comes first: sshd takes the first value of a
    /// keyword, so a test's `LogLevel DEBUG3` overrides the fixture's `LogLevel VERBOSE`.
    private static func configuration(port: Int, directory: TemporaryDirectory, extra: [String]) -> String {
        (extra + [
            "Port \(port)",
            "ListenAddress 127.0.0.1",
            "HostKey \(directory.file("hostkey"))",
            "TrustedUserCAKeys \(directory.file("trusted_ca.pub"))",
            "AuthorizedPrincipalsFile \(directory.file("principals"))/%u",
            "AuthorizedKeysFile none",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "UseDNS no",
            "PrintMotd no",
            "Subsystem sftp internal-sftp",
            "PidFile \(directory.file("sshd.pid"))",
            "LogLevel VERBOSE",
        ]).joined(separator: "\n") + "\n"
    }


    private enum Readiness { case ready, exited, timedOut }

    /// Ready once this sshd says it listens on `port` and the port answers. The banner alone
    /// is not enough: two fixtures starting at once can be handed the same free port, and
    /// while the second sshd fails to bind, the first one's banner answers for it (its test
    /// then met another host key).
    private static func waitUntilReady(pid: pid_t, port: Int, logPath: String, timeout: TimeInterval) -> Readiness {
        let deadline = Date().addingTimeInterval(timeout)
        let listening = "Server listening on 127.0.0.1 port \(port)."
        while Date() < deadline {
            if ChildSpawner.hasExited(pid) { return .exited }
            if ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").contains(listening),
                identificationLine(port: port)?.hasPrefix("SSH-") == true
            {
                return .ready
            }
            usleep(20_000)
        }
        return ChildSpawner.hasExited(pid) ? .exited : .timedOut
    }

    /// Connects to 127.0.0.1:port and reads the server's first line, or nil.
    private static func identificationLine(port: Int) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count < 255, recv(fd, &byte, 1, 0) == 1 {
            if byte == UInt8(ascii: "\n") { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
        return nil
    }

    /// A port that was free a moment ago (bind 127.0.0.1:0, read, close).
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw FixtureError("socket: errno \(errno)") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw FixtureError("bind: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw FixtureError("getsockname: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    public struct FixtureError: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }
}
