import BastionCore
import BastionTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Two real `bastiond serve` processes on one PostgreSQL database and one recording
/// directory; node A is killed with SIGKILL while it relays a session.
@Suite("Two nodes on PostgreSQL: a node killed -9")
struct HANodeLossTests {
    @Test("node A killed -9: its session ends; node B records the end and closes the recording as interrupted, and leaves its own session alone")
    func nodeKilled() async throws {
        let url = try await offPool { try PostgresFixture.shared().createDatabase() }
        let directory = try TemporaryDirectory(prefix: "bastion-node-loss")
        let recordings = directory.file("recordings")
        func config(_ node: String, targets: String = "") -> String {
            """
            [server]
            data_dir = "\(directory.file(node))"
            [storage]
            url = "\(url)"
            node = "\(node)"
            node_timeout = "3s"
            [ssh]
            listen = "127.0.0.1:0"
            [http]
            listen = "127.0.0.1:0"
            [recording]
            dir = "\(recordings)"
            [roles.ops]
            targets = ["web*"]
            logins = ["root"]
            \(targets)
            """
        }
        let configA = directory.file("node-a.toml")
        let configB = directory.file("node-b.toml")
        try config("node-a").write(toFile: configA, atomically: true, encoding: .utf8)
        let shown = try await RelayDaemonProcess.run(["ca", "show", "--config", configA])
        try #require(shown.status == 0, "\(shown)")
        try FileManager.default.copyItem(atPath: directory.file("node-a"), toPath: directory.file("node-b"))
        let upstreamCA = try SSHPublicKey(authorizedKeysLine: try String(contentsOfFile: directory.file("node-a/upstream_ca.pub"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines))
        let sshd = try await SSHDFixture.start(trustedCA: upstreamCA, logins: ["root"])
        defer { sshd.stop() }
        let targets = """
            [targets.web01]
            address = "127.0.0.1:\(sshd.port)"
            host_key = "\(sshd.hostKey.authorizedKeysLine)"
            [targets.web02]
            address = "127.0.0.1:\(sshd.port)"
            host_key = "\(sshd.hostKey.authorizedKeysLine)"
            """
        try config("node-a", targets: targets).write(toFile: configA, atomically: true, encoding: .utf8)
        try config("node-b", targets: targets).write(toFile: configB, atomically: true, encoding: .utf8)

        let key = try await Engineer.makeKey(in: directory, name: "alice", type: .ed25519)
        let added = try await RelayDaemonProcess.run([
            "user", "add", "alice", "--key", try String(contentsOfFile: key + ".pub", encoding: .utf8), "--role", "ops", "--config", configA,
        ])
        try #require(added.status == 0, "\(added)")
        let secret = try #require(added.stdout.firstMatch(of: /otpauth:\/\/\S*[?&]secret=([A-Z2-7]+)/).map { String($0.1) }, "\(added)")

        let nodeA = try await RelayDaemonProcess(config: configA, logPath: directory.file("node-a.log"))
        defer { nodeA.killNow() }
        let nodeB = try await RelayDaemonProcess(config: configB, logPath: directory.file("node-b.log"))
        defer { nodeB.killNow() }

        let askpass = directory.file("askpass")
        try Engineer.writeExecutable(askpass, "#!/bin/sh\nexec oathtool --totp -b \(secret)\n")
        let certificate = key + "-cert.pub"
        func options(certificate withCertificate: Bool, port: Int) -> [String] {
            [
                "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-o", "CertificateFile=\(withCertificate ? certificate : "/dev/null")",
                "-p", String(port),
            ]
        }
        let fetched = try await ProcessRunner.run(
            "ssh", options(certificate: false, port: nodeA.sshPort) + ["alice@127.0.0.1", "cert"],
            environment: ["SSH_ASKPASS": askpass, "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"]
        )
        try #require(fetched.status == 0, "\(fetched)")
        try fetched.stdout.write(toFile: certificate, atomically: true, encoding: .utf8)

        // One session through each node (web01 through A, web02 through B).
        let ssh = try ProcessRunner.locate("ssh")
        let outputA = directory.file("a.out")
        let outputB = directory.file("b.out")
        let clientA = try ChildSpawner.spawn(
            [ssh] + options(certificate: true, port: nodeA.sshPort) + ["-tt", "root@web01@127.0.0.1", "echo on-node-a; sleep 60"], output: outputA
        )
        defer { ChildSpawner.terminate(clientA) }
        let clientB = try ChildSpawner.spawn(
            [ssh] + options(certificate: true, port: nodeB.sshPort) + ["-tt", "root@web02@127.0.0.1", "echo on-node-b; sleep 60"], output: outputB
        )
        defer { ChildSpawner.terminate(clientB) }
        func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
        try #require(try await poll(timeout: 20) { text(outputA).contains("on-node-a") && text(outputB).contains("on-node-b") })
        let before = try await RelayDaemonProcess.run(["session", "list", "--config", configB])
        #expect(before.stdout.contains("root@web01") && before.stdout.contains("root@web02"), "\(before)")

        // Node A's recording holds the output on disk (flushed at least every 500 ms) before the kill.
        var recordingA = ""
        let flushed = try await poll(timeout: 20) {
            for file in RelayRecording.files(under: recordings)
            where ((try? RelayRecording.events(file)) ?? []).contains(where: { $0.code == "o" && $0.data.contains("on-node-a") }) {
                recordingA = file
                return true
            }
            return false
        }
        try #require(flushed)
        kill(nodeA.process.processIdentifier, SIGKILL)
        #expect(try await poll(timeout: 15) { ChildSpawner.exitStatus(clientA) != nil }, "the client of the killed node was not disconnected")

        // Within the node timeout (3 s) plus a beat, B ends A's session and closes its recording.
        let cleaned = try await poll(timeout: 20) {
            let markers = (FileManager.default.enumerator(atPath: recordings)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".cast.open") }
            return markers.count == 1
        }
        #expect(cleaned, "A's recording was not closed by node B")
        let after = try await RelayDaemonProcess.run(["session", "list", "--config", configB])
        #expect(!after.stdout.contains("root@web01") && after.stdout.contains("root@web02"), "\(after)")
        let ends = try await RelayDaemonProcess.run(["audit", "search", "--type", "session.end", "--config", configB, "--json"])
        #expect(ends.stdout.contains("interrupted") && ends.stdout.contains("stopped answering"), "\(ends)")

        let replay = try await RelayRecording.asciinemaCat(recordingA)
        #expect(replay.status == 0 && replay.stdout.contains("on-node-a"), "\(replay)")
        #expect(text(recordingA).contains("\"interrupted\""), "no interrupted marker: \(text(recordingA).suffix(200))")
        #expect(ChildSpawner.exitStatus(clientB) == nil, "node B's own session must go on")
    }

    private func poll(timeout: TimeInterval, _ condition: () throws -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try condition()
    }
}
