import BastionTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `Config/ha/` as shipped: two real `bastiond serve` processes on one PostgreSQL database
/// behind a real HAProxy in TCP mode, on free loopback ports instead of the example's fixed
/// ones. Engineers log in through HAProxy; when a node stops, HAProxy's /healthz check takes
/// it out and logins go on through the other.
@Suite("Config/ha: two nodes behind HAProxy")
struct HAProxyExampleTests {
    static let example = BastiondBinary.checkout.appendingPathComponent("Config/ha").path

    @Test("the example comes up: a certificate fetched through HAProxy logs in; with node A stopped, logins still work through node B")
    func failover() async throws {
        let haproxyPath = try ProcessRunner.locate("haproxy")
        let url = try await offPool { try PostgresFixture.shared().createDatabase() }
        let directory = try TemporaryDirectory(prefix: "bastion-haproxy")
        // The example's fixed paths become temp paths; the nodes listen on ports the kernel picks
        // (read back once they run), and HAProxy's own ports are chosen when it starts.
        var replacements: [String: String] = [
            "postgres://bastion@127.0.0.1:5432/bastion": url,
            ".bastion-ha/node-a": directory.file("node-a"), ".bastion-ha/node-b": directory.file("node-b"),
            ".bastion-ha/recordings": directory.file("recordings"),
        ]
        for port in [2223, 2224, 8081, 8082] { replacements["127.0.0.1:\(port)"] = "127.0.0.1:0" }
        func install(_ name: String, _ replacements: [String: String]) throws -> String {
            var text = try String(contentsOfFile: Self.example + "/" + name, encoding: .utf8)
            // Longest first: "check port 8081" before "127.0.0.1:8081".
            for (from, to) in replacements.sorted(by: { $0.key.count > $1.key.count }) { text = text.replacingOccurrences(of: from, with: to) }
            let path = directory.file(name)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let configA = try install("node-a.toml", replacements)
        let configB = try install("node-b.toml", replacements)

        // README steps 2 and 3: schema and keys on node A, key files copied to node B.
        let migrated = try await BastiondBinary.run(["migrate", "--config", configA])
        try #require(migrated.status == 0, "\(migrated)")
        let shown = try await BastiondBinary.run(["ca", "show", "--config", configA])
        try #require(shown.status == 0, "\(shown)")
        try FileManager.default.copyItem(atPath: directory.file("node-a"), toPath: directory.file("node-b"))
        let key = try await Engineer.makeKey(in: directory, name: "alice", type: .ed25519)
        let secret = try await RelayDaemonProcess.addUser("alice", key: key, roles: ["engineer"], config: configB)

        let nodeA = try await RelayDaemonProcess(config: configA, logPath: directory.file("node-a.log"))
        defer { nodeA.killNow() }
        let nodeB = try await RelayDaemonProcess(config: configB, logPath: directory.file("node-b.log"))
        defer { nodeB.killNow() }
        // HAProxy in front of the ports the nodes got; its own two ports were free a moment ago,
        // so a start that loses one of them to another test tries other ports.
        var backends = replacements
        backends["127.0.0.1:2223"] = "127.0.0.1:\(nodeA.sshPort)"
        backends["127.0.0.1:2224"] = "127.0.0.1:\(nodeB.sshPort)"
        backends["127.0.0.1:8081"] = "127.0.0.1:\(nodeA.httpPort)"
        backends["127.0.0.1:8082"] = "127.0.0.1:\(nodeB.httpPort)"
        backends["check port 8081"] = "check port \(nodeA.httpPort)"
        backends["check port 8082"] = "check port \(nodeB.httpPort)"
        var haproxy: pid_t = 0
        var sshPort = 0
        var httpPort = 0
        for _ in 0..<5 {
            (sshPort, httpPort) = (try SSHDFixture.freePort(), try SSHDFixture.freePort())
            backends["127.0.0.1:2222"] = "127.0.0.1:\(sshPort)"
            backends["127.0.0.1:8080"] = "127.0.0.1:\(httpPort)"
            let haproxyConfig = try install("haproxy.cfg", backends)
            haproxy = try ChildSpawner.spawn([haproxyPath, "-db", "-f", haproxyConfig], output: directory.file("haproxy.log"))
            try await Task.sleep(for: .milliseconds(500))
            if !ChildSpawner.hasExited(haproxy) { break }
        }
        let running = haproxy
        defer { ChildSpawner.terminate(running) }
        try #require(!ChildSpawner.hasExited(running), "haproxy did not start: \((try? String(contentsOfFile: directory.file("haproxy.log"), encoding: .utf8)) ?? "")")

        let askpass = directory.file("askpass")
        try Engineer.writeExecutable(askpass, "#!/bin/sh\nexec oathtool --totp -b \(secret)\n")
        let certificate = key + "-cert.pub"
        func ssh(_ command: String, withCertificate: Bool, from source: String = "127.0.0.1") async throws -> ProcessRunner.Result {
            try await ProcessRunner.run(
                "ssh",
                [
                    "-b", source, "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                    "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-o", "CertificateFile=\(withCertificate ? certificate : "/dev/null")",
                    "-p", String(sshPort), "alice@127.0.0.1", command,
                ],
                environment: ["SSH_ASKPASS": askpass, "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"]
            )
        }
        // HAProxy sends nothing to a node until two health checks passed: wait for a login to go through.
        var fetched = try await ssh("cert", withCertificate: false)
        let deadline = Date().addingTimeInterval(20)
        while fetched.status != 0, Date() < deadline {
            try await Task.sleep(for: .milliseconds(500))
            fetched = try await ssh("cert", withCertificate: false)
        }
        try #require(fetched.status == 0, "\(fetched)\n\((try? String(contentsOfFile: directory.file("haproxy.log"), encoding: .utf8)) ?? "")")
        try fetched.stdout.write(toFile: certificate, atomically: true, encoding: .utf8)
        // Round robin: these land on both nodes, and the certificate works on each.
        for _ in 0..<4 {
            let whoami = try await ssh("whoami", withCertificate: true)
            #expect(whoami.status == 0 && whoami.stdout.contains("alice"), "\(whoami)")
        }
        // PROXY v2: the nodes see the engineer's own address, not HAProxy's.
        let fromElsewhere = try await ssh("whoami", withCertificate: true, from: "127.0.0.5")
        #expect(fromElsewhere.status == 0, "\(fromElsewhere)")
        let logins = try await BastiondBinary.run(["audit", "search", "--type", "auth.login", "--json", "--config", configB])
        #expect(logins.stdout.contains(#""remoteAddress":"127.0.0.5""#), "\(logins)")
        let health = try await ProcessRunner.run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(httpPort)/healthz"])
        #expect(health.stdout == "200", "\(health)")

        // X-Forwarded-For from HAProxy (http.trusted_proxies): a refused approval link is audited
        // with the browser's address; one the client wrote itself is passed over; and sent
        // straight to a node, bypassing HAProxy, the header is ignored.
        func get(_ url: String, from source: String, forwardedFor: String? = nil) async throws -> String {
            let header = forwardedFor.map { ["-H", "X-Forwarded-For: \($0)"] } ?? []
            return try await ProcessRunner.run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--interface", source] + header + [url]).stdout
        }
        #expect(try await get("http://127.0.0.1:\(httpPort)/approve/not-a-link", from: "127.0.0.5") == "404")
        #expect(try await get("http://127.0.0.1:\(httpPort)/approve/not-a-link", from: "127.0.0.6", forwardedFor: "10.9.9.9") == "404")
        #expect(try await get("http://127.0.0.1:\(nodeB.httpPort)/approve/not-a-link", from: "127.0.0.7", forwardedFor: "10.9.9.9") == "404")
        let refusals = try await BastiondBinary.run(["audit", "search", "--type", "elevation.refused", "--json", "--config", configB]).stdout
        let addresses = refusals.split(separator: "\n").compactMap { line -> String? in
            let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return (record?["connection"] as? [String: Any])?["remoteAddress"] as? String
        }
        #expect(addresses.sorted() == ["127.0.0.5", "127.0.0.6", "127.0.0.7"], "\(refusals)")

        // Node A stops: after its checks fail, every login goes to node B.
        try #require(try await nodeA.signal(SIGTERM))
        try await Task.sleep(for: .seconds(3))
        for _ in 0..<4 {
            let whoami = try await ssh("whoami", withCertificate: true)
            #expect(whoami.status == 0 && whoami.stdout.contains("alice"), "\(whoami)")
        }
    }
}
