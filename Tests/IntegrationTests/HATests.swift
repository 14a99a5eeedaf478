import BastionApp
import BastionCore
import BastionCrypto
import BastionTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Two real `bastiond serve` processes on one real PostgreSQL server, driven with the stock
/// OpenSSH client and the admin CLI: what one node does, the other must honour at once.
@Suite("Two nodes on PostgreSQL")
struct HATests {
    @Test("a certificate from node A logs in on node B behind one host key; a TOTP code used on A is refused on B")
    func sharedIdentityAndTOTP() async throws {
        try await withCluster { cluster in
            let alice = try await cluster.enroll("alice", roles: ["ops"])
            let code = try await cluster.code(alice)
            let certificate = try await cluster.ssh(alice, port: cluster.nodeA.sshPort, "cert", code: code, certificate: false)
            try #require(certificate.status == 0, "\(certificate)")
            try certificate.stdout.write(toFile: alice.certificate, atomically: true, encoding: .utf8)

            let onB = try await cluster.ssh(alice, port: cluster.nodeB.sshPort, "whoami")
            #expect(onB.status == 0 && onB.stdout.contains("alice"), "\(onB)")

            // The same code again, on the other node: spent, whatever the step is by now.
            let replayed = try await cluster.ssh(alice, port: cluster.nodeB.sshPort, "cert", code: code, certificate: false)
            #expect(replayed.status != 0, "\(replayed)")
            let failures = try await RelayDaemonProcess.run(["audit", "search", "--type", "auth.failed", "--json", "--config", cluster.configB])
            #expect(failures.stdout.contains("already used"), "\(failures)")

            // Logins on both nodes at once: both append to one chain, which verifies from either.
            let results = try await withThrowingTaskGroup(of: Int32.self) { group in
                for index in 0..<12 {
                    let port = index.isMultiple(of: 2) ? cluster.nodeA.sshPort : cluster.nodeB.sshPort
                    group.addTask { try await cluster.ssh(alice, port: port, "whoami").status }
                }
                return try await group.reduce(into: [Int32]()) { $0.append($1) }
            }
            #expect(results.allSatisfy { $0 == 0 }, "\(results)")
            for config in [cluster.configA, cluster.configB] {
                let verified = try await RelayDaemonProcess.run(["audit", "verify", "--config", config])
                #expect(verified.status == 0, "\(verified)")
            }

            var keys: [String] = []
            for port in [cluster.nodeA.sshPort, cluster.nodeB.sshPort] {
                let scan = try await ProcessRunner.run("ssh-keyscan", ["-t", "ed25519", "-p", String(port), "127.0.0.1"])
                keys.append(scan.stdout.split(separator: " ").dropFirst().joined(separator: " "))
            }
            #expect(!keys[0].isEmpty && keys[0] == keys[1], "\(keys)")
        }
    }

    @Test("an elevation request filed on node A is approved on node B, and the grant works on A")
    func elevationAcrossNodes() async throws {
        try await withCluster(roles: ClusterRoles.elevation) { cluster in
            let alice = try await cluster.enroll("alice", roles: ["sre"])
            let bob = try await cluster.enroll("bob", roles: ["lead", "sre"])
            try await cluster.fetchCertificate(alice, port: cluster.nodeA.sshPort)
            try await cluster.fetchCertificate(bob, port: cluster.nodeB.sshPort)

            let filed = try await cluster.ssh(alice, port: cluster.nodeA.sshPort, "elevate web01 --reason rotate certificates --no-wait")
            try #require(filed.status == 0, "\(filed)")
            let id = try #require(filed.stdout.firstMatch(of: /request ([0-9a-f]{8})/).map { String($0.1) }, "\(filed)")

            let pending = try await cluster.ssh(bob, port: cluster.nodeB.sshPort, "requests --pending")
            #expect(pending.stdout.contains(id), "\(pending)")
            // bob's login spent this step's code: he decides with the next step's (within the ±1 step window).
            let approval = try await cluster.ssh(
                bob, port: cluster.nodeB.sshPort, "approve \(id)", input: try await cluster.code(bob, stepsAhead: 1) + "\n"
            )
            #expect(approval.status == 0, "\(approval)")

            let root = try await cluster.ssh(alice, port: cluster.nodeA.sshPort, user: "root@web01", "id -un")
            #expect(root.status == 0 && root.stdout == "root\n", "\(root)")
        }
    }

    @Test("a user locked on node B has a live session on node A ended within seconds; both nodes verify the one chain; B replays A's recording")
    func lockAcrossNodes() async throws {
        try await withCluster { cluster in
            let (_, client, output) = try await cluster.aliceInSessionOnNodeA(marker: "session-started")
            defer { ChildSpawner.terminate(client) }
            func text() -> String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }

            let locked = try await RelayDaemonProcess.run(["user", "lock", "alice", "--config", cluster.configB])
            #expect(locked.status == 0, "\(locked)")
            let lockedAt = Date()
            #expect(try await clusterPoll(timeout: 15) { ChildSpawner.exitStatus(client) != nil }, "the session on node A outlived the lock made on node B")
            #expect(Date().timeIntervalSince(lockedAt) < 10)
            #expect(text().contains("your account is locked"), "\(text())")

            for config in [cluster.configA, cluster.configB] {
                let verified = try await RelayDaemonProcess.run(["audit", "verify", "--config", config])
                #expect(verified.status == 0, "\(verified)")
            }
            // B finds the session A recorded (its index is shared) and plays the recording, verified against the chain.
            let ends = try await RelayDaemonProcess.run(["audit", "search", "--type", "session.end", "--config", cluster.configB, "--json"])
            let sessionID = try #require(ends.stdout.firstMatch(of: /"session_id":"([0-9a-f]+)"/).map { String($0.1) }, "\(ends)")
            var replay: ProcessRunner.Result?
            let played = try await clusterPollAsync(timeout: 15) {
                replay = try await RelayDaemonProcess.run(["replay", sessionID, "--speed", "100", "--config", cluster.configB])
                return replay?.status == 0
            }
            #expect(played && replay?.stdout.contains("session-started") == true, "\(String(describing: replay))")
        }
    }

    @Test("PostgreSQL restarted while a session runs: the session goes on, new logins fail closed with a clear message until it is back, nothing is lost")
    func databaseRestart() async throws {
        let postgres = try await PostgresFixture.launch()
        try await withCluster(postgres: postgres) { cluster in
            let alice = try await cluster.enroll("alice", roles: ["ops"])
            try await cluster.fetchCertificate(alice, port: cluster.nodeA.sshPort)
            let output = cluster.directory.file("session.out")
            let client = try cluster.spawnSession(
                alice, port: cluster.nodeA.sshPort, user: "root@web01", "echo session-started; sleep 6; echo still-here; exit 7", output: output
            )
            defer { ChildSpawner.terminate(client) }
            func text() -> String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
            try #require(try await clusterPoll(timeout: 20) { text().contains("session-started") })

            // The database goes away after the key step, while the engineer types the code:
            // the code is refused with the same banner. The askpass program tells the test it
            // was asked, and answers once the database is down.
            let (asked, go) = (cluster.directory.file("asked"), cluster.directory.file("go"))
            let askpass = "#!/bin/sh\ntouch '\(asked)'\nwhile [ ! -f '\(go)' ]; do sleep 0.05; done\necho '\(try await cluster.code(alice, stepsAhead: 1))'\n"
            let midway = Task { try await cluster.ssh(alice, port: cluster.nodeB.sshPort, "cert", askpassScript: askpass, certificate: false, logLevel: "INFO") }
            try #require(try await clusterPoll(timeout: 20) { FileManager.default.fileExists(atPath: asked) }, "ssh never asked for the code")
            try await offPool { postgres.stop() }
            _ = FileManager.default.createFile(atPath: go, contents: nil)
            let refusedAtCode = try await midway.value
            #expect(refusedAtCode.status != 0, "a certificate was issued with the database down: \(refusedAtCode)")
            #expect(refusedAtCode.stderr.contains("bastion: temporarily unavailable"), "\(refusedAtCode)")

            // What the engineer reads (OpenSSH prints banners at its default log level).
            let refused = try await cluster.ssh(alice, port: cluster.nodeB.sshPort, "whoami", logLevel: "INFO")
            #expect(refused.status != 0, "a login succeeded with the database down: \(refused)")
            #expect(refused.stderr.contains("bastion: temporarily unavailable"), "\(refused)")
            try await Task.sleep(for: .seconds(2))
            try await offPool { try postgres.start() }

            #expect(try await clusterPoll(timeout: 20) { ChildSpawner.exitStatus(client) != nil })
            #expect(text().contains("still-here"), "the session did not survive the database restart: \(text())")
            let again = try await cluster.ssh(alice, port: cluster.nodeB.sshPort, "whoami")
            #expect(again.status == 0, "\(again)")
            var ends = ""
            // The session may have ended while the database was still down: its record waits and arrives.
            #expect(try await clusterPollAsync(timeout: 30) {
                ends = try await RelayDaemonProcess.run(["audit", "search", "--type", "session.end", "--json", "--config", cluster.configA]).stdout
                return ends.contains("\"exit_status\":\"7\"")
            }, "\(ends)")
        }
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
