import BastionApp
import BastionCore
import BastionTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// OpenSSH's `ControlMaster`: one authenticated connection carries every session of a user
/// (Ansible and `ssh` in scripts use it by default with `ControlPersist`). Each session is
/// its own recorded, audited relay; `roles.NAME.max_sessions` caps how many run at once.
@Suite("Sessions multiplexed over one connection")
struct MultiplexingTests {
    /// A `ControlMaster` connection held by `ssh -M -N`, and a way to run sessions over it.
    struct Master {
        let alice: Engineer
        let control: String

        /// `ssh -S CONTROL root@web01@… COMMAND`: a session over the master's connection.
        func run(_ command: String) async throws -> ProcessRunner.Result {
            try await alice.ssh([command], user: "root@web01", answer: .none, useCertificate: true, options: ["-S", control, "-o", "ControlMaster=no"])
        }

        func start(_ command: String, output: String) throws -> SpawnedProcess {
            try SpawnedProcess(
                executable: "ssh",
                alice.clientOptions(useCertificate: true) + [
                    "-S", control, "-o", "ControlMaster=no", "-p", String(alice.harness.endpoints.sshPort), "root@web01@127.0.0.1", command,
                ],
                stdout: .file(output), stderr: .file(output + ".err")
            )
        }
    }

    static func withMaster(maxSessions: Int?, _ body: (BastionHarness, Master) async throws -> Void) async throws {
        try await withRelay(configure: { $0.policy.roles["ops"]?.maxSessions = maxSessions }) { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let control = bastion.directory.file("mux")
            let log = bastion.directory.file("master.err")
            let master = try SpawnedProcess(
                executable: "ssh",
                alice.clientOptions(useCertificate: true) + [
                    "-p", String(bastion.endpoints.sshPort), "-M", "-S", control, "-N", "root@web01@127.0.0.1",
                ],
                stderr: .file(log)
            )
            defer { master.signal(SIGKILL) }
            let listening = try await relayPoll(timeout: 20) { FileManager.default.fileExists(atPath: control) }
            try #require(listening, "the master never listened: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            try await body(bastion, Master(alice: alice, control: control))
        }
    }

    @Test("sessions past max_sessions are refused with one line and audited; those running go on, and a new one fits once one ends")
    func maxSessions() async throws {
        try await Self.withMaster(maxSessions: 2) { bastion, master in
            let go = bastion.directory.file("go")
            let wait = "while [ ! -e \(go) ]; do sleep 0.1; done; echo"
            let held = try [
                master.start("\(wait) one", output: bastion.directory.file("one.out")),
                master.start("\(wait) two", output: bastion.directory.file("two.out")),
            ]
            defer { held.forEach { $0.signal(SIGKILL) } }
            #expect(try await relayPoll(timeout: 20) { try bastion.auditRecords("session.start").count == 2 })

            let third = try await master.run("echo three")
            #expect(third.status == 1, "\(third)")
            #expect(third.stdout.isEmpty)
            #expect(
                third.stderr.contains("bastion: this connection already has 2 sessions open, the most your roles allow (max_sessions)"),
                "\(third.stderr)"
            )
            let denied = try bastion.auditRecords("session.denied").compactMap { $0["reason"] as? String }
            #expect(denied == ["max_sessions (2) reached"], "\(denied)")

            // The two held sessions were untouched by the refusal: they finish with their output.
            _ = FileManager.default.createFile(atPath: go, contents: Data())
            for (process, word) in zip(held, ["one", "two"]) {
                #expect(try await process.waitForExit(timeout: 20))
                #expect(process.exitStatus == 0)
                let output = try String(contentsOfFile: bastion.directory.file("\(word).out"), encoding: .utf8)
                #expect(output == "\(word)\n", "\(output)")
            }
            let fourth = try await master.run("echo four")
            #expect(fourth.status == 0, "\(fourth)")
            #expect(fourth.stdout == "four\n")
        }
    }

    @Test("each multiplexed session is its own recorded relay on the one connection")
    func eachSessionRecorded() async throws {
        try await Self.withMaster(maxSessions: nil) { bastion, master in
            for word in ["alpha", "beta", "gamma"] {
                let result = try await master.run("echo \(word); exit 7")
                #expect(result.status == 7, "\(result)")
                #expect(result.stdout == "\(word)\n")
            }
            #expect(try await relayPoll(timeout: 10) { try bastion.auditRecords("session.end").count == 3 })
            let starts = try bastion.auditRecords("session.start")
            let connections = Set(starts.compactMap { ($0["connection"] as? [String: Any])?["id"] as? String })
            #expect(connections.count == 1, "sessions came over \(connections.count) connections")
            let ends = try await bastion.auditDetails("session.end")
            #expect(Set(ends.compactMap { $0["session_id"] }).count == 3)
            #expect(ends.allSatisfy { $0["exit_status"] == "7" }, "\(ends)")
            for end in ends {
                let recording = String(decoding: try RelayRecording.plaintext(try #require(end["recording"])), as: UTF8.self)
                #expect(["alpha", "beta", "gamma"].contains { recording.contains($0) }, "\(recording)")
            }
        }
    }

    /// Paramiko opens session channels and never asks them to run anything.
    static let idleChannels = """
        import json, socket, sys, time
        import paramiko

        port, key_path, cert_path = sys.argv[1], sys.argv[2], sys.argv[3]
        key = paramiko.Ed25519Key.from_private_key_file(key_path)
        key.load_certificate(cert_path)
        t = paramiko.Transport(socket.create_connection(("127.0.0.1", int(port))))
        t.start_client(timeout=10)
        t.auth_publickey("alice", key)
        channels, refused = [], 0
        for _ in range(5):
            try:
                channels.append(t.open_session(timeout=3))
            except Exception:
                refused += 1
        endings = []
        for channel in channels:
            channel.status_event.wait(20)
            endings.append([channel.exit_status, channel.recv_stderr(4096).decode()])
        print(json.dumps({"opened": len(channels), "refused": refused, "endings": endings}))
        """

    @Test("channels opened and never used: one past max_sessions waits for its request, further ones are refused, and all idle out")
    func unusedChannels() async throws {
        try await withBastion(configure: {
            $0.policy.roles["engineer"]?.maxSessions = 2
            $0.sessions.idleTimeout = 2
        }) { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            let script = bastion.directory.file("idle-channels.py")
            try Self.idleChannels.write(toFile: script, atomically: true, encoding: .utf8)
            let run = try await ProcessRunner.run(
                PythonClients.python, [script, String(bastion.endpoints.sshPort), alice.keyPath, alice.certificatePath], environment: try PythonClients.environment, timeout: 60
            )
            try #require(run.status == 0, "\(run)")
            let results = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run)")
            #expect(results["opened"] as? Int == 3, "\(results)")
            #expect(results["refused"] as? Int == 2, "\(results)")
            let endings = results["endings"] as? [[Any]] ?? []
            #expect(endings.count == 3)
            for ending in endings {
                #expect(ending.first as? Int == 1, "\(ending)")
                #expect((ending.last as? String)?.contains("bastion: session idle for 2s; closed") == true, "\(ending)")
            }
            let ended = try bastion.auditRecords("connection.end").compactMap { $0["reason"] as? String }
            #expect(ended == ["idle timeout"], "\(ended)")
        }
    }
}
