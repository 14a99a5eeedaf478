import BastionCore
import BastionTesting
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Two real `bastiond serve` processes on one PostgreSQL database: the same key files (node
/// A creates them, node B gets a copy, as Config/ha/README.md tells operators), one recording
/// directory, and `web01`/`web02` on a real sshd trusting their upstream CA. Engineers are
/// enrolled with the admin CLI and use the stock `ssh`. Everything is stopped by PID.
final class ProcessCluster: @unchecked Sendable {
    let directory: TemporaryDirectory
    let databaseURL: String
    let recordings: String
    let configA: String
    let configB: String
    let nodeA: RelayDaemonProcess
    let nodeB: RelayDaemonProcess
    let sshd: SSHDFixture

    /// A user enrolled with the admin CLI: key files and TOTP secret.
    struct Member {
        let name: String
        let key: String
        let secret: String
        var certificate: String { key + "-cert.pub" }
    }

    /// Starts both nodes; `roles` is TOML appended to both configurations.
    init(postgres: PostgresFixture? = nil, roles: String = ClusterRoles.ops, nodeTimeout: String = "30s") async throws {
        let server = try await offPool { try postgres ?? PostgresFixture.shared() }
        databaseURL = try await offPool { try server.createDatabase() }
        directory = try TemporaryDirectory(prefix: "bastion-cluster")
        recordings = directory.file("recordings")
        configA = directory.file("node-a.toml")
        configB = directory.file("node-b.toml")
        try Self.config(directory, node: "node-a", url: databaseURL, recordings: recordings, nodeTimeout: nodeTimeout, extra: roles)
            .write(toFile: configA, atomically: true, encoding: .utf8)
        let shown = try await RelayDaemonProcess.run(["ca", "show", "--config", configA])
        guard shown.status == 0 else { throw HarnessError(message: "ca show: \(shown)") }
        try FileManager.default.copyItem(atPath: directory.file("node-a"), toPath: directory.file("node-b"))
        let upstreamCA = try SSHPublicKey(authorizedKeysLine: try String(contentsOfFile: directory.file("node-a/upstream_ca.pub"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines))
        let sshd = try await SSHDFixture.start(trustedCA: upstreamCA, logins: ["root", "deploy"])
        self.sshd = sshd
        do {
            let targets = """
                \(roles)
                [targets.web01]
                address = "127.0.0.1:\(sshd.port)"
                host_key = "\(sshd.hostKey.authorizedKeysLine)"
                [targets.web02]
                address = "127.0.0.1:\(sshd.port)"
                host_key = "\(sshd.hostKey.authorizedKeysLine)"
                """
            for (node, path) in [("node-a", configA), ("node-b", configB)] {
                try Self.config(directory, node: node, url: databaseURL, recordings: recordings, nodeTimeout: nodeTimeout, extra: targets)
                    .write(toFile: path, atomically: true, encoding: .utf8)
            }
            nodeA = try await RelayDaemonProcess(config: configA, logPath: directory.file("node-a.log"))
        } catch {
            sshd.stop()
            throw error
        }
        do {
            nodeB = try await RelayDaemonProcess(config: configB, logPath: directory.file("node-b.log"))
        } catch {
            nodeA.killNow()
            sshd.stop()
            throw error
        }
    }

    /// Stops both nodes (SIGTERM) and the target.
    func stop() async {
        _ = try? await nodeA.signal(SIGTERM)
        _ = try? await nodeB.signal(SIGTERM)
        nodeA.killNow()
        nodeB.killNow()
        sshd.stop()
    }

    /// `bastiond user add NAME --role …` through node `config`'s admin CLI.
    func enroll(_ name: String, roles: [String], config: String? = nil) async throws -> Member {
        let key = try await Engineer.makeKey(in: directory, name: name, type: .ed25519)
        let secret = try await RelayDaemonProcess.addUser(name, key: key, roles: roles, config: config ?? configA)
        return Member(name: name, key: key, secret: secret)
    }

    /// The TOTP code of `member` for the step `stepsAhead` steps from now (oathtool).
    func code(_ member: Member, stepsAhead: Int = 0) async throws -> String {
        let time = Int(Date().timeIntervalSince1970) + 30 * stepsAhead
        return try await ProcessRunner.run("oathtool", ["--totp", "-b", member.secret, "--now", "@\(time)"])
            .stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The stock client's options for `member` at `port`: no config, no known_hosts, the
    /// certificate if asked.
    func options(_ member: Member, port: Int, certificate: Bool, logLevel: String = "ERROR") -> [String] {
        [
            "-F", "/dev/null", "-i", member.key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=\(logLevel)", "-o", "NumberOfPasswordPrompts=1", "-o", "ConnectTimeout=10",
            "-o", "CertificateFile=\(certificate ? member.certificate : "/dev/null")", "-p", String(port),
        ]
    }

    /// `ssh USER@127.0.0.1 COMMAND` through the node on `port`; `code` answers the TOTP prompt, or
    /// `askpassScript` is the program that does.
    func ssh(
        _ member: Member, port: Int, user: String? = nil, _ command: String, code: String? = nil, askpassScript: String? = nil,
        certificate: Bool = true, input: String? = nil, logLevel: String = "ERROR"
    ) async throws -> ProcessRunner.Result {
        var environment: [String: String] = [:]
        if let script = askpassScript ?? code.map({ "#!/bin/sh\necho '\($0)'\n" }) {
            let askpass = directory.file("askpass-\(UUID().uuidString)")
            try Engineer.writeExecutable(askpass, script)
            environment = ["SSH_ASKPASS": askpass, "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"]
        }
        return try await ProcessRunner.run(
            "ssh", options(member, port: port, certificate: certificate, logLevel: logLevel) + ["\(user ?? member.name)@127.0.0.1", command],
            environment: environment, input: input.map { Data($0.utf8) }, timeout: 30
        )
    }

    /// `cert` with key + the current code through the node on `port`; saves the certificate.
    func fetchCertificate(_ member: Member, port: Int) async throws {
        let result = try await ssh(member, port: port, "cert", code: try await code(member), certificate: false)
        guard result.status == 0 else { throw HarnessError(message: "cert: \(result)") }
        try result.stdout.write(toFile: member.certificate, atomically: true, encoding: .utf8)
    }

    /// A long-running session (`-tt`), its output written to `output`; the caller stops it by PID.
    func spawnSession(_ member: Member, port: Int, user: String, _ command: String, output: String) throws -> pid_t {
        try ChildSpawner.spawn([try ProcessRunner.locate("ssh")] + options(member, port: port, certificate: true) + ["-tt", "\(user)@127.0.0.1", command], output: output)
    }

    /// alice (role `ops`) enrolled, her certificate fetched through node A, and a long session
    /// through A to `root@web01` (`echo MARKER; sleep 60`) that has printed its marker. The
    /// caller stops the client by PID; `output` holds what it printed, stderr included.
    func aliceInSessionOnNodeA(marker: String) async throws -> (alice: Member, client: pid_t, output: String) {
        let alice = try await enroll("alice", roles: ["ops"])
        try await fetchCertificate(alice, port: nodeA.sshPort)
        let output = directory.file("\(marker).out")
        let client = try spawnSession(alice, port: nodeA.sshPort, user: "root@web01", "echo \(marker); sleep 60", output: output)
        func text() -> String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
        guard try await clusterPoll(timeout: 20, { text().contains(marker) }) else {
            ChildSpawner.terminate(client)
            throw HarnessError(message: "the session through node A did not print \(marker): \(text())")
        }
        return (alice, client, output)
    }

    private static func config(
        _ directory: TemporaryDirectory, node: String, url: String, recordings: String, nodeTimeout: String, extra: String
    ) -> String {
        """
        [server]
        data_dir = "\(directory.file(node))"
        [storage]
        url = "\(url)"
        node = "\(node)"
        node_timeout = "\(nodeTimeout)"
        [ssh]
        listen = "127.0.0.1:0"
        [http]
        listen = "127.0.0.1:0"
        [recording]
        dir = "\(recordings)"
        \(extra)
        """
    }
}

/// The roles the cluster tests use.
enum ClusterRoles {
    static let ops = """
        [roles.ops]
        targets = ["web*"]
        logins = ["root"]
        """
    /// alice's and bob's roles in the single-node elevation tests.
    static let elevation = ElevationTests.roles
}

/// Runs `body` with a fresh two-node cluster and always stops it.
func withCluster(
    postgres: PostgresFixture? = nil, roles: String = ClusterRoles.ops, nodeTimeout: String = "30s", _ body: (ProcessCluster) async throws -> Void
) async throws {
    let cluster = try await ProcessCluster(postgres: postgres, roles: roles, nodeTimeout: nodeTimeout)
    do {
        try await body(cluster)
    } catch {
        await cluster.stop()
        throw error
    }
    await cluster.stop()
}

/// Polls `condition` every 100 ms until it holds or `timeout` passes; returns whether it held.
func clusterPoll(timeout: TimeInterval, _ condition: () throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return try condition()
}

/// ``clusterPoll(timeout:_:)`` for a condition that awaits (runs a program), every 300 ms.
func clusterPollAsync(timeout: TimeInterval, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(300))
    }
    return try await condition()
}
