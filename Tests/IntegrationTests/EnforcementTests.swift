import BastionApp
import BastionCore
import BastionStore
import BastionTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The enforcement point reaches every authenticated connection, not only relayed sessions:
/// a lock, an expired certificate or a kill ends an `ssh -N -L` forward and its open streams,
/// and a lock ends a command still waiting (`elevate`). Stock OpenSSH client, real echo server.
@Suite("Enforcement on forwards and commands")
struct EnforcementTests {
    /// alice (role `ops`, allowed `direct-tcpip` to an echo server) holding `ssh -N -L` open,
    /// with one stream through it that has echoed a line.
    struct HeldForward {
        let bastion: BastionHarness
        let alice: Engineer
        let client: SpawnedProcess
        let clientLog: String
        let localPort: Int
        let echoPort: Int
        let stream: TCPStream

        var clientStderr: String { (try? String(contentsOfFile: clientLog, encoding: .utf8)) ?? "" }
    }

    static func withHeldForward(_ body: (HeldForward) async throws -> Void) async throws {
        let echo = try EchoServer()
        defer { echo.stop() }
        try await withRelay(configure: { $0.policy.roles["ops"]?.directTCPIPDestinations = ["127.0.0.1:\(echo.port)"] }) { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let localPort = try SSHDFixture.freePort()
            let log = bastion.directory.file("forward-\(localPort).err")
            let client = try SpawnedProcess(
                executable: "ssh",
                alice.clientOptions(useCertificate: true) + [
                    "-p", String(bastion.endpoints.sshPort), "-N", "-o", "ExitOnForwardFailure=yes",
                    "-L", "127.0.0.1:\(localPort):127.0.0.1:\(echo.port)", "alice@127.0.0.1",
                ],
                stderr: .file(log)
            )
            defer { client.signal(SIGKILL) }
            var stream: TCPStream?
            _ = try await relayPoll(timeout: 20) {
                stream = try? TCPStream(port: localPort)
                return stream != nil
            }
            let opened = try #require(stream, "ssh -L never listened: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            #expect(try await opened.roundTrip("before\n") == "before\n")
            try await body(HeldForward(
                bastion: bastion, alice: alice, client: client, clientLog: log, localPort: localPort, echoPort: echo.port, stream: opened
            ))
        }
    }

    /// Checks that the forward is over: the open stream is closed within `within` seconds of
    /// `since`, a new stream carries nothing, the client is told `message`, and the ending is
    /// audited with `reason` on the forward and the connection.
    /// `within` is checked on Bastion's side, from the record of what caused the ending
    /// (`cause`, e.g. `user.lock`) to the forward's `forward.close`: the test's own threads on a
    /// loaded machine (a parallel CI run) add their delays to what the client sees, which is
    /// held to a looser bound.
    static func expectEnded(
        _ held: HeldForward, since: Date, within: TimeInterval, message: String, reason: String, cause: String? = nil
    ) async throws {
        let closed = try await held.stream.waitForClose(timeout: 10)
        let elapsed = Date().timeIntervalSince(since)
        #expect(closed, "the open forwarded stream still carries bytes")
        #expect(elapsed <= within + 3, "the client saw the stream closed after \(elapsed) s")
        if let cause {
            func time(_ type: String) throws -> Date? {
                try held.bastion.auditRecords(type).last.flatMap { $0["time"] as? String }.flatMap(AuditEvent.parseTimestamp)
            }
            _ = try await held.bastion.auditDetails("forward.close")
            let caused = try #require(try time(cause))
            let ended = try #require(try time("forward.close"))
            #expect(ended.timeIntervalSince(caused) <= within, "\(cause) at \(caused), forward.close at \(ended)")
        }
        // A new stream through the same -L: the client has been disconnected, or its channel is refused.
        if let fresh = try? TCPStream(port: held.localPort) {
            let echoed = try? await fresh.roundTrip("after\n", timeout: 3)
            #expect(echoed != "after\n", "a new stream still opens")
        }
        #expect(try await held.client.waitForExit(timeout: 10), "ssh -N -L still connected")
        #expect(held.clientStderr.contains("bastion: \(message)"), "\(held.clientStderr)")
        let closes = try await held.bastion.auditDetails("forward.close")
        #expect(closes.contains { $0["end_reason"] == reason && $0["destination"] == "127.0.0.1:\(held.echoPort)" }, "\(closes)")
        let endings = try held.bastion.auditRecords("connection.end").compactMap { $0["reason"] as? String }
        #expect(endings == [reason], "\(endings)")
    }

    @Test("a lock ends an open -L stream and the forward within 2 s, and refuses a new stream")
    func lockEndsForward() async throws {
        try await Self.withHeldForward { held in
            try held.bastion.administration.lockUser(name: "alice")
            try await Self.expectEnded(held, since: Date(), within: 2, message: "your account is locked", reason: "user locked", cause: "user.lock")
        }
    }

    @Test("certificate expiry ends a forward")
    func expiryEndsForward() async throws {
        try await Self.withHeldForward { held in
            held.bastion.clock.advance(by: 5 * 3600)
            try await Self.expectEnded(held, since: Date(), within: 3, message: "your certificate expired", reason: "certificate expired")
        }
    }

    @Test("session list shows a forward-only connection and session kill ends it")
    func killEndsForward() async throws {
        try await Self.withHeldForward { held in
            let sessions = held.bastion.environment.sessions
            let listed = try sessions.liveSessions()
            #expect(listed.count == 1, "\(listed)")
            let row = try #require(listed.first)
            #expect(row.kind == SessionRecord.forwardKind)
            #expect(row.user == "alice")
            #expect(row.target == "127.0.0.1:\(held.echoPort)")
            #expect(row.sourceAddress == "127.0.0.1")
            // The operator's way: the admin CLI on the same database.
            let config = held.bastion.directory.file("cli.toml")
            try BastionHarness.configText(in: held.bastion.directory).write(toFile: config, atomically: true, encoding: .utf8)
            let listing = try await BastiondBinary.run(["session", "list", "--config", config])
            let line = listing.stdout.split(separator: "\n").first { $0.hasPrefix(row.id.rawValue) }.map(String.init) ?? ""
            #expect(line.contains("-> 127.0.0.1:\(held.echoPort)") && line.hasSuffix("forward"), "\(listing)")
            let killed = try await BastiondBinary.run(["session", "kill", row.id.rawValue, "--config", config])
            #expect(killed.status == 0, "\(killed)")
            try await Self.expectEnded(
                held, since: Date(), within: 3, message: "session terminated by an administrator", reason: "killed by administrator"
            )
            #expect(try await relayPoll(timeout: 5) { try sessions.liveSessions().isEmpty })
        }
    }

    @Test("a lock ends a waiting elevate with one line and exit status 1")
    func lockEndsWaitingElevate() async throws {
        try await ElevationTests().withTeam { harness, alice, _ in
            let output = harness.directory.file("elevate-locked.out")
            let client = try SpawnedProcess(
                executable: "ssh",
                alice.clientOptions(useCertificate: true)
                    + ["-p", String(harness.endpoints.sshPort), "alice@127.0.0.1", "elevate web01 --reason deploy hotfix --for 5m"],
                stdout: .file(output), stderr: .file(output)
            )
            defer { client.signal(SIGKILL) }
            #expect(try await relayPoll(timeout: 20) { try !harness.environment.elevations.requests(in: [.requested]).isEmpty })
            try harness.administration.lockUser(name: "alice")
            #expect(try await client.waitForExit(timeout: 5), "elevate still waiting after the lock")
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            #expect(client.exitStatus == 1, "\(text)")
            #expect(text.contains("bastion: your account is locked"), "\(text)")
            let endings = try harness.auditRecords("connection.end").compactMap { $0["reason"] as? String }
            #expect(endings == ["user locked"], "\(endings)")
        }
    }
}

/// A TCP server on loopback that echoes what each connection sends (one thread per client).
final class EchoServer {
    let port: Int
    private let process: SpawnedProcess

    init() throws {
        port = try SSHDFixture.freePort()
        let script = """
            import socket, threading
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", \(port))); s.listen(64)
            def serve(c):
                while True:
                    d = c.recv(65536)
                    if not d: break
                    c.sendall(d)
                c.close()
            while True:
                c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
            """
        process = try SpawnedProcess(executable: "python3", ["-c", script])
        for _ in 0..<100 {
            if (try? LoopbackSocket(port: port)) != nil { return }
            usleep(50_000)
        }
        throw HarnessError(message: "echo server did not listen on \(port)")
    }

    func stop() { process.signal(SIGKILL) }
}
