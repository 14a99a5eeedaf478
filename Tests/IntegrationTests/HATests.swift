import BastionApp
import BastionCore
import BastionCrypto
import BastionTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Two bastiond nodes on one real PostgreSQL server, driven with the stock OpenSSH client:
/// what one node does, the other must honour at once.
@Suite("Two nodes on PostgreSQL", .serialized)
struct HATests {
    static let elevationRoles = """
        [roles.sre]
        targets = ["web*"]
        logins = ["deploy"]
        elevated_logins = ["root"]
        max_elevation = "20m"
        [roles.lead]
        approve_targets = ["web*"]
        approve_logins = ["root"]
        """

    @Test("a certificate from node A logs in on node B behind one host key; a TOTP code used on A is refused on B")
    func sharedIdentityAndTOTP() async throws {
        try await withTwoNodes { cluster in
            let alice = try await cluster.a.enroll("alice", roles: ["ops"])
            let code = try await alice.currentCode()
            let certificate = try await alice.ssh(["cert"], answer: .fixed(code))
            try #require(certificate.status == 0, "\(certificate)")
            try certificate.stdout.write(toFile: alice.certificatePath, atomically: true, encoding: .utf8)

            let onB = try await alice.on(cluster.b).ssh(["whoami"], useCertificate: true)
            #expect(onB.status == 0, "\(onB)")
            #expect(onB.stdout.contains("alice"), "\(onB)")

            // The same code again, on the other node: spent, whatever the step is by now.
            let replayed = try await alice.on(cluster.b).ssh(["cert"], answer: .fixed(code))
            #expect(replayed.status != 0, "\(replayed)")
            let reasons = try cluster.b.denialReasons()
            #expect(reasons.contains { $0.contains("already used") || $0.contains("replay") }, "\(reasons)")

            let keys = try await [cluster.a, cluster.b].asyncMap { node in
                try await ProcessRunner.run("ssh-keyscan", ["-t", "ed25519", "-p", String(node.endpoints.sshPort), "127.0.0.1"])
                    .stdout.split(separator: " ").dropFirst().joined(separator: " ")
            }
            #expect(!keys[0].isEmpty && keys[0] == keys[1], "\(keys)")
        }
    }

    @Test("an elevation request filed on node A is approved on node B, and the grant works on A")
    func elevationAcrossNodes() async throws {
        try await withTwoNodes(extraConfig: Self.elevationRoles) { cluster in
            let alice = try await cluster.a.enroll("alice", roles: ["sre"])
            let bob = try await cluster.a.enroll("bob", roles: ["lead", "sre"])
            try await alice.fetchCertificate()
            let bobOnB = bob.on(cluster.b)
            try await bobOnB.fetchCertificate()

            let filed = try await alice.ssh(["elevate web01 --reason rotate certificates --no-wait"], useCertificate: true)
            try #require(filed.status == 0, "\(filed)")
            let id = try #require(filed.stdout.firstMatch(of: /request ([0-9a-f]{8})/).map { String($0.1) }, "\(filed)")

            let pending = try await bobOnB.ssh(["requests --pending"], useCertificate: true)
            #expect(pending.stdout.contains(id), "\(pending)")
            // bob's login spent this step's code on B: decide with the next one.
            cluster.b.clock.advance(by: 30)
            let code = try await bobOnB.currentCode()
            let approval = try await ProcessRunner.run(
                "ssh", bobOnB.clientOptions(useCertificate: true) + ["-p", String(cluster.b.endpoints.sshPort), "bob@127.0.0.1", "approve \(id)"],
                input: Data((code + "\n").utf8), timeout: 30
            )
            #expect(approval.status == 0, "\(approval)")

            let root = try await alice.ssh(["id -un"], user: "root@web01", useCertificate: true)
            #expect(root.status == 0, "\(root)")
            #expect(root.stdout == "root\n", "\(root)")
        }
    }

    @Test("a user locked on node B has a live session on node A ended within seconds; any node verifies the one chain and finds the session")
    func lockAcrossNodes() async throws {
        try await withTwoNodes { cluster in
            let alice = try await cluster.a.enroll("alice", roles: ["ops"])
            try await alice.fetchCertificate()
            let output = cluster.a.directory.file("session.out")
            let client = try ChildSpawner.spawn(
                [try ProcessRunner.locate("ssh")] + alice.clientOptions(useCertificate: true)
                    + ["-p", String(cluster.a.endpoints.sshPort), "-tt", "root@web01@127.0.0.1", "echo session-started; sleep 60"],
                output: output
            )
            defer { ChildSpawner.terminate(client) }
            let started = try await poll(timeout: 20) { ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").contains("session-started") }
            try #require(started, "\((try? String(contentsOfFile: output, encoding: .utf8)) ?? "")")

            let administration = cluster.b.administration
            try await offPool { try administration.lockUser(name: "alice") }
            let lockedAt = Date()
            let ended = try await poll(timeout: 15) { ChildSpawner.exitStatus(client) != nil }
            #expect(ended, "the session on node A outlived the lock made on node B")
            #expect(Date().timeIntervalSince(lockedAt) < 10)
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            #expect(text.contains("your account is locked"), "\(text)")

            // Both nodes wrote to one chain: it verifies from either.
            let endRecords = try await cluster.b.auditDetails("session.end")
            let sessionID = try #require(endRecords.last?["session_id"])
            for node in [cluster.a, cluster.b] {
                let environment = node.environment
                let report = try await offPool {
                    try environment.auditLog.verify(publicKey: environment.keys.auditKey.publicKey, purgeableBefore: .distantPast)
                }
                #expect(report.isIntact, "\(report.problems)")
            }
            // The session recorded by A is indexed, and its recording readable, from B.
            let catalog = cluster.b.environment.sessionCatalog
            let indexed = try await poll(timeout: 15) { (try? catalog.session(id: sessionID)) != nil }
            #expect(indexed)
            let recording = try #require(try catalog.session(id: sessionID)?.recording)
            let cat = try await RelayRecording.asciinemaCat(recording)
            #expect(cat.status == 0 && cat.stdout.contains("session-started"), "\(recording): \(cat)")
        }
    }

    @Test("PostgreSQL restarted while a session runs: the session goes on, new logins fail closed until it is back, nothing is lost")
    func databaseRestart() async throws {
        let postgres = try await PostgresFixture.launch()
        try await withTwoNodes(postgres: postgres) { cluster in
            let alice = try await cluster.a.enroll("alice", roles: ["ops"])
            try await alice.fetchCertificate()
            let output = cluster.a.directory.file("session.out")
            let client = try ChildSpawner.spawn(
                [try ProcessRunner.locate("ssh")] + alice.clientOptions(useCertificate: true)
                    + ["-p", String(cluster.a.endpoints.sshPort), "-tt", "root@web01@127.0.0.1",
                       "echo session-started; sleep 6; echo still-here; exit 7"],
                output: output
            )
            defer { ChildSpawner.terminate(client) }
            let started = try await poll(timeout: 20) { ((try? String(contentsOfFile: output, encoding: .utf8)) ?? "").contains("session-started") }
            try #require(started)

            try await offPool { postgres.stop() }
            let refused = try await alice.ssh(["whoami"], useCertificate: true)
            #expect(refused.status != 0, "a login succeeded with the database down: \(refused)")
            // What the engineer reads (OpenSSH prints banners at its default log level).
            let told = try await ProcessRunner.run(
                "ssh", alice.clientOptions(useCertificate: true).map { $0 == "LogLevel=ERROR" ? "LogLevel=INFO" : $0 }
                    + ["-p", String(cluster.b.endpoints.sshPort), "alice@127.0.0.1", "whoami"]
            )
            #expect(told.status != 0 && told.stderr.contains("bastion: temporarily unavailable"), "\(told)")
            try await Task.sleep(for: .seconds(2))
            try await offPool { try postgres.start() }

            let finished = try await poll(timeout: 20) { ChildSpawner.exitStatus(client) != nil }
            #expect(finished)
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            #expect(text.contains("still-here"), "the session did not survive the database restart: \(text)")

            let again = try await alice.ssh(["whoami"], useCertificate: true)
            #expect(again.status == 0, "\(again)")
            let ends = try await cluster.a.auditDetails("session.end")
            #expect(ends.contains { $0["exit_status"] == "7" }, "\(ends)")
        }
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

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

/// The operator's side of several nodes: schema migrations and the shared identity check.
@Suite("Two nodes on PostgreSQL: operator commands")
struct HAOperatorTests {
    @Test("bastiond migrate applies the numbered migrations once; a node with other key files is refused at start, naming them")
    func migrateAndIdentity() async throws {
        let url = try await offPool { try PostgresFixture.shared().createDatabase() }
        let first = try TemporaryDirectory(prefix: "bastion-ha-first")
        let second = try TemporaryDirectory(prefix: "bastion-ha-second")
        for (directory, node) in [(first, "node-a"), (second, "node-b")] {
            try """
                [server]
                data_dir = "\(directory.file("data"))"
                [storage]
                url = "\(url)"
                node = "\(node)"
                """.write(toFile: directory.file("bastiond.toml"), atomically: true, encoding: .utf8)
        }
        let migrated = try await BastiondBinary.run(["migrate", "--config", first.file("bastiond.toml")])
        #expect(migrated.status == 0, "\(migrated)")
        #expect(migrated.stdout.contains("applied 0001_identities_sessions_elevation"), "\(migrated)")
        let again = try await BastiondBinary.run(["migrate", "--config", first.file("bastiond.toml")])
        #expect(again.status == 0 && again.stdout.contains(", 0 applied now"), "\(again)")

        // The first node to start records its keys' fingerprints; a node with keys of its own is refused.
        let shown = try await BastiondBinary.run(["ca", "show", "--config", first.file("bastiond.toml")])
        #expect(shown.status == 0, "\(shown)")
        let stranger = try await BastiondBinary.run(["ca", "show", "--config", second.file("bastiond.toml")])
        #expect(stranger.status != 0, "\(stranger)")
        #expect(stranger.stderr.contains("this node's keys differ from the cluster's"), "\(stranger)")
        #expect(stranger.stderr.contains("host_key") && stranger.stderr.contains("master_key"), "\(stranger)")
        #expect(!stranger.stderr.contains(url.split(separator: "@").first.map(String.init) ?? "-"), "no credentials in the message")

        // With the first node's key files copied, it joins.
        try FileManager.default.removeItem(atPath: second.file("data"))
        try FileManager.default.copyItem(atPath: first.file("data"), toPath: second.file("data"))
        let joined = try await BastiondBinary.run(["ca", "show", "--config", second.file("bastiond.toml")])
        #expect(joined.status == 0, "\(joined)")
        #expect(joined.stdout == shown.stdout)
    }
}
