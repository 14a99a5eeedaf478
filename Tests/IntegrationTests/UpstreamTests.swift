import BastionApp
import BastionCore
import BastionCrypto
import BastionSSH
import BastionTesting
import CLibSSH
import Foundation
import Testing

/// Bastion as an SSH client of a target host: a real OpenSSH sshd that trusts only the
/// upstream CA, a per-session certificate, and a pinned host key.
@Suite("Upstream")
struct UpstreamTests {
    private let authority: CertificateAuthority

    init() throws {
        authority = CertificateAuthority(privateKey: try Ed25519PrivateKey())
    }

    private func request(_ sshd: SSHDFixture, pin: SSHPublicKey? = nil, login: String = "root", session: String = UUID().uuidString)
        -> UpstreamRequest
    {
        UpstreamRequest(
            host: "127.0.0.1", port: sshd.port, pinnedHostKey: pin ?? sshd.hostKey, login: login, user: "alice", sessionID: session,
            connectTimeout: 10
        )
    }

    @Test("connects with a per-session certificate; the target runs a command as the login")
    func connectAndExec() async throws {
        let sshd = try await SSHDFixture.start(trustedCA: authority.publicKey)
        defer { sshd.stop() }
        let sessionID = "s-\(UUID().uuidString.prefix(8))"
        let now = Date()
        let upstream = try await onThread { [authority, request = request(sshd, session: sessionID)] in
            try UpstreamConnector.connect(request, authority: authority, now: now)
        }
        defer { upstream.close() }

        let certificate = upstream.certificate
        let keyID = "bastion session=\(sessionID) user=alice login=root"
        #expect(certificate.keyID == keyID)
        #expect(certificate.principals == ["root"])
        #expect(certificate.kind == .user)
        #expect(certificate.extensions == ["permit-pty": ""])
        #expect(certificate.criticalOptions.isEmpty)
        #expect(certificate.signatureKey == authority.publicKey)
        #expect(certificate.publicKey.algorithm == "ssh-ed25519")
        let start = UInt64(now.timeIntervalSince1970)
        #expect(certificate.validAfter >= start - 31 && certificate.validAfter <= start - 29)
        #expect(certificate.validBefore >= start + 119 && certificate.validBefore <= start + 121)
        #expect(upstream.hostKey == sshd.hostKey)
        #expect(["curve25519-sha256", "curve25519-sha256@libssh.org"].contains(upstream.negotiatedKex), "\(upstream.negotiatedKex)")

        let result = try await onThread { try Self.exec(upstream, "id -un; exit 7") }
        let lines = result.output.split(separator: "\n").map(String.init)
        #expect(lines.last == "root", "\(result.output)")
        #expect(result.status == 7)

        // sshd names the certificate in its log: the target's records lead back to the session.
        let log = try await Self.waitForLog(sshd) { $0.contains("Accepted certificate ID \"\(keyID)\"") }
        #expect(log.contains("Accepted certificate ID \"\(keyID)\" (serial \(certificate.serial))"), "\(log)")
        #expect(log.contains("Accepted publickey for root"), "\(log)")
    }

    @Test("a host key other than the pinned one is refused before any authentication")
    func hostKeyMismatch() async throws {
        let sshd = try await SSHDFixture.start(trustedCA: authority.publicKey)
        defer { sshd.stop() }
        let other = CertificateAuthority(privateKey: try Ed25519PrivateKey()).publicKey
        let sessionID = "mismatch-\(UUID().uuidString.prefix(8))"
        let error = try await expectUpstreamError { [authority, request = request(sshd, pin: other, session: sessionID)] in
            try UpstreamConnector.connect(request, authority: authority, now: Date())
        }
        #expect(error.code == .hostKeyMismatch)
        #expect(error.detail == sshd.hostKey.fingerprint)
        #expect(error.presentedHostKey == sshd.hostKey)

        // We hang up right after key exchange: sshd logs the closed connection, and nothing
        // about a user, a key or a certificate.
        let log = try await Self.waitForLog(sshd) { $0.contains("[preauth]") || $0.contains("Disconnected from") }
        for word in ["Accepted", "Failed", "certificate", "publickey", "root", sessionID] {
            #expect(!log.contains(word), "sshd log mentions \(word): \(log)")
        }
    }

    @Test("nothing listening: unreachable")
    func unreachable() async throws {
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        let port = refusing.port
        let pin = CertificateAuthority(privateKey: try Ed25519PrivateKey()).publicKey
        let request = UpstreamRequest(
            host: "127.0.0.1", port: port, pinnedHostKey: pin, login: "root", user: "alice", sessionID: "s1", connectTimeout: 5
        )
        let error = try await expectUpstreamError { [authority] in
            try UpstreamConnector.connect(request, authority: authority, now: Date())
        }
        #expect(error.code == .unreachable)
        #expect(error.detail.contains("127.0.0.1:\(port)"), "\(error)")
    }

    @Test("a certificate from a CA the target does not trust: authenticationFailed")
    func untrustedAuthority() async throws {
        let sshd = try await SSHDFixture.start(trustedCA: authority.publicKey)
        defer { sshd.stop() }
        let stranger = CertificateAuthority(privateKey: try Ed25519PrivateKey())
        let error = try await expectUpstreamError { [request = request(sshd)] in
            try UpstreamConnector.connect(request, authority: stranger, now: Date())
        }
        #expect(error.code == .authenticationFailed, "\(error)")
    }

    @Test("a login without a principals file: authenticationFailed")
    func loginNotAllowed() async throws {
        let sshd = try await SSHDFixture.start(trustedCA: authority.publicKey, logins: ["root"])
        defer { sshd.stop() }
        let error = try await expectUpstreamError { [authority, request = request(sshd, login: "nobody")] in
            try UpstreamConnector.connect(request, authority: authority, now: Date())
        }
        #expect(error.code == .authenticationFailed, "\(error)")
    }

    @Test("an expired certificate (minted for a time long past): authenticationFailed")
    func expiredCertificate() async throws {
        let sshd = try await SSHDFixture.start(trustedCA: authority.publicKey)
        defer { sshd.stop() }
        let error = try await expectUpstreamError { [authority, request = request(sshd)] in
            try UpstreamConnector.connect(request, authority: authority, now: Date().addingTimeInterval(-3600))
        }
        #expect(error.code == .authenticationFailed, "\(error)")
    }

    /// Two fixtures starting at once can be handed the same free port: the second sshd then
    /// fails to bind while the first one's banner answers on that port.
    @Test("a test sshd whose port another sshd holds starts on another port, with its own host key")
    func fixturePortTaken() async throws {
        let first = try await SSHDFixture.start(trustedCA: authority.publicKey)
        defer { first.stop() }
        let second = try await SSHDFixture.start(trustedCA: authority.publicKey, firstPort: first.port)
        defer { second.stop() }
        #expect(second.port != first.port)
        let keys = try await onThread { try HostKeyScanner.scan(host: "127.0.0.1", port: second.port, timeout: 5) }
        #expect(keys == [second.hostKey], "the port answers with another sshd's key")
    }

    @Test("the scanner returns sshd's host key, and check compares it with a pin")
    func scanner() async throws {
        let sshd = try await SSHDFixture.start(trustedCA: authority.publicKey)
        defer { sshd.stop() }
        let keys = try await onThread { try HostKeyScanner.scan(host: "127.0.0.1", port: sshd.port, timeout: 5) }
        #expect(keys == [sshd.hostKey])
        let checked = try await onThread { try HostKeyScanner.check(host: "127.0.0.1", port: sshd.port, pinned: sshd.hostKey, timeout: 5) }
        #expect(checked == sshd.hostKey)
        let other = CertificateAuthority(privateKey: try Ed25519PrivateKey()).publicKey
        let error = try await expectUpstreamError {
            try HostKeyScanner.check(host: "127.0.0.1", port: sshd.port, pinned: other, timeout: 5)
        }
        #expect(error.code == .hostKeyMismatch)
        #expect(error.detail == sshd.hostKey.fingerprint)
    }

    @Test("the session key survives a re-key (RekeyLimit on the target)")
    func rekey() async throws {
        let sshd = try await SSHDFixture.start(trustedCA: authority.publicKey, extraConfig: ["RekeyLimit 1M"])
        defer { sshd.stop() }
        let upstream = try await onThread { [authority, request = request(sshd)] in
            try UpstreamConnector.connect(request, authority: authority, now: Date())
        }
        defer { upstream.close() }
        let result = try await onThread { try Self.exec(upstream, "head -c 4000000 /dev/zero | tr '\\0' x; exit 3") }
        #expect(result.output.utf8.count == 4_000_000, "got \(result.output.utf8.count) bytes")
        #expect(result.output.utf8.allSatisfy { $0 == UInt8(ascii: "x") })
        #expect(result.status == 3)
    }

    // MARK: - bastiond target …

    @Test("bastiond target check / scan / setup against a real sshd")
    func targetCommands() async throws {
        let sshd = try await SSHDFixture.start(trustedCA: authority.publicKey)
        defer { sshd.stop() }
        let directory = try TemporaryDirectory()
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        let deadPort = refusing.port
        let other = CertificateAuthority(privateKey: try Ed25519PrivateKey()).publicKey
        let config = directory.file("bastiond.toml")
        try BastionHarness.configText(in: directory, extra: """
        [targets.web01]
        address = "127.0.0.1:\(sshd.port)"
        host_key = "\(sshd.hostKey.authorizedKeysLine)"
        [targets.web02]
        address = "127.0.0.1:\(sshd.port)"
        host_key = "\(other.authorizedKeysLine)"
        [targets.web03]
        address = "127.0.0.1:\(deadPort)"
        host_key = "\(sshd.hostKey.authorizedKeysLine)"
        """).write(toFile: config, atomically: true, encoding: .utf8)

        let matches = try await UpstreamBinary.run(["target", "check", "web01", "--config", config])
        #expect(matches.status == 0, "\(matches)")
        #expect(matches.stdout.contains("web01 (127.0.0.1:\(sshd.port)): pinned host key matches (ED25519 \(sshd.hostKey.fingerprint))"), "\(matches)")

        let mismatch = try await UpstreamBinary.run(["target", "check", "web02", "--config", config])
        #expect(mismatch.status == 1, "\(mismatch)")
        #expect(mismatch.stderr.contains("host key MISMATCH for web02"), "\(mismatch)")
        #expect(mismatch.stderr.contains("pinned ED25519 \(other.fingerprint), presented ED25519 \(sshd.hostKey.fingerprint)"), "\(mismatch)")

        let dead = try await UpstreamBinary.run(["target", "check", "web03", "--config", config, "--timeout", "5"])
        #expect(dead.status == 1, "\(dead)")
        #expect(dead.stderr.contains("web03 unreachable"), "\(dead)")

        let unknown = try await UpstreamBinary.run(["target", "check", "db01", "--config", config])
        #expect(unknown.status != 0, "\(unknown)")
        #expect(unknown.stderr.contains("unknown target \"db01\""), "\(unknown)")
        #expect(unknown.stderr.contains("web01, web02, web03"), "\(unknown)")

        let scan = try await UpstreamBinary.run(["target", "scan", "127.0.0.1:\(sshd.port)"])
        #expect(scan.status == 0, "\(scan)")
        #expect(scan.stdout.contains("host_key = \"\(sshd.hostKey.authorizedKeysLine)\""), "\(scan)")
        #expect(scan.stdout.contains("# ED25519 \(sshd.hostKey.fingerprint)"), "\(scan)")
        #expect(scan.stdout.contains("out of band") || scan.stdout.contains("over a\n# channel you trust"), "\(scan)")

        let scanDead = try await UpstreamBinary.run(["target", "scan", "127.0.0.1:\(deadPort)", "--timeout", "5"])
        #expect(scanDead.status == 1, "\(scanDead)")
        #expect(scanDead.stderr.contains("unreachable"), "\(scanDead)")

        let setup = try await UpstreamBinary.run(["target", "setup", "--config", config])
        #expect(setup.status == 0, "\(setup)")
        let shown = try await UpstreamBinary.run(["ca", "show", "--config", config])
        let upstreamCA = try #require(shown.stdout.split(separator: "\n").last { $0.hasSuffix("bastion-upstream-ca") })
        #expect(setup.stdout.contains(String(upstreamCA)), "\(setup)")
        #expect(setup.stdout.contains("TrustedUserCAKeys /etc/ssh/bastion_upstream_ca.pub"))
        #expect(setup.stdout.contains("AuthorizedPrincipalsFile /etc/ssh/auth_principals/%u"))
        #expect(setup.stdout.contains("#AuthorizedKeysFile none"))
    }

    // MARK: - Helpers

    /// Runs a blocking libssh call on a thread of its own (never on the cooperative pool).
    private func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.start()
        }
    }

    /// Runs `body` on a thread and returns the `UpstreamError` it must throw.
    private func expectUpstreamError<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> UpstreamError {
        let thrown: UpstreamError? = try await onThread {
            do {
                _ = try body()
                return nil
            } catch let error as UpstreamError {
                return error
            }
        }
        guard let thrown else {
            Issue.record("expected an UpstreamError, but the call succeeded")
            throw UpstreamTestError(message: "call succeeded")
        }
        return thrown
    }

    /// Opens a session channel, runs `command`, reads stdout to the end, returns it with the
    /// exit status. Blocking: call through `onThread`.
    private static func exec(_ upstream: UpstreamSession, _ command: String) throws -> (output: String, status: Int32) {
        guard let channel = ssh_channel_new(upstream.session) else { throw UpstreamTestError(message: "ssh_channel_new") }
        defer { ssh_channel_free(channel) }
        guard ssh_channel_open_session(channel) == SSH_OK, ssh_channel_request_exec(channel, command) == SSH_OK else {
            throw UpstreamTestError(message: "exec: \(String(cString: ssh_get_error(UnsafeMutableRawPointer(upstream.session))))")
        }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 32_768)
        while true {
            let count = buffer.withUnsafeMutableBytes {
                ssh_channel_read_timeout(channel, $0.baseAddress, UInt32($0.count), 0, 20_000)
            }
            if count <= 0 { break }
            output += buffer[0..<Int(count)]
        }
        ssh_channel_send_eof(channel)
        let status = ssh_channel_get_exit_status(channel)
        ssh_channel_close(channel)
        return (String(decoding: output, as: UTF8.self), status)
    }

    /// The sshd log once `condition` holds (sshd writes it asynchronously), or after 5 s.
    private static func waitForLog(_ sshd: SSHDFixture, _ condition: (String) -> Bool) async throws -> String {
        let deadline = Date().addingTimeInterval(5)
        while true {
            let log = sshd.log
            if condition(log) || Date() > deadline { return log }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

struct UpstreamTestError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// The `bastiond` executable, from whichever scratch path built it.
enum UpstreamBinary {
    static var path: String {
        get throws {
            let repository = BastiondBinary.checkout
            // The test bundle's own build directory first, so that a test run uses the binary
            // built with it.
            let bundleDirectory = Bundle.main.bundleURL.path
            let candidates = [bundleDirectory + "/bastiond"] + [".build-upstream", ".build"].flatMap { scratch in
                ["debug", "release"].map { repository.appendingPathComponent("\(scratch)/\($0)/bastiond").path }
            }
            if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) { return found }
            throw UpstreamTestError(message: "bastiond is not built: run `swift build --build-tests`")
        }
    }

    static func run(_ arguments: [String], timeout: TimeInterval = 30) async throws -> ProcessRunner.Result {
        try await ProcessRunner.run(try path, arguments, timeout: timeout)
    }
}
