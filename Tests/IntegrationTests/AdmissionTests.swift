import BastionApp
import BastionCore
import BastionTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Admission like sshd's, and better: a large listen backlog, limits on unauthenticated
/// connections only, a queue instead of random drops, floods that cannot starve others, and
/// per-source penalties. Stock OpenSSH clients, raw sockets from many loopback addresses.
@Suite("Admission under bursts and floods")
struct AdmissionTests {
    /// The number in `/metrics` for `name` (first sample), or nil.
    static func metric(_ bastion: BastionHarness, _ name: String) async throws -> Double? {
        try await metric(httpPort: bastion.endpoints.httpPort, name)
    }

    static func metric(httpPort: Int, _ name: String) async throws -> Double? {
        let body = try await ProcessRunner.run("curl", ["-s", "http://127.0.0.1:\(httpPort)/metrics"]).stdout
        return body.split(separator: "\n").first { $0.hasPrefix(name + " ") || $0.hasPrefix(name + "{") }
            .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
    }

    /// `count` authenticated connections of `engineer` (`ssh -N`), opened one after the
    /// other, each once its handshake is over (no handshake running, one more open).
    static func holdConnections(_ engineer: Engineer, count: Int) async throws -> [SpawnedProcess] {
        var held: [SpawnedProcess] = []
        for open in 1...count {
            held.append(try SpawnedProcess(
                executable: "ssh",
                engineer.clientOptions(useCertificate: true) + ["-N", "-p", String(engineer.harness.endpoints.sshPort), "\(engineer.name)@127.0.0.1"]
            ))
            var seen: (Double?, Double?) = (nil, nil)
            let settled = try await relayPoll(timeout: 20) {
                seen = (
                    try await metric(engineer.harness, "bastion_ssh_connections_open"), try await metric(engineer.harness, "bastion_ssh_handshakes_running")
                )
                return seen == (Double(open), 0)
            }
            if !settled {
                held.forEach { $0.signal(SIGKILL) }
                throw HarnessError(message: "connection \(open) of \(count) not settled: open and running \(seen)")
            }
        }
        return held
    }

    @Test("the listen backlog is the kernel's maximum, not libssh's 10")
    func backlog() async throws {
        try await withBastion { bastion in
            let listing = try await ProcessRunner.run("ss", ["-Hltn", "sport = :\(bastion.endpoints.sshPort)"]).stdout
            let fields = listing.split(whereSeparator: \.isWhitespace)
            let backlog = try #require(fields.count > 2 ? Int(fields[2]) : nil, "\(listing)")
            #expect(backlog >= 128, "\(listing)")
        }
    }

    /// 100 here, beside the rest of the suite on two cores (the old 64-per-address cap dropped
    /// a third of such a burst); the issue's 200, beside sshd, is `make bench`'s `hostile` suite.
    @Test("100 concurrent certificate logins from one address all succeed")
    func burstFromOneAddress() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            let started = Date()
            let failures = try await withThrowingTaskGroup(of: ProcessRunner.Result.self) { group in
                for _ in 0..<100 {
                    group.addTask { try await alice.ssh(["whoami"], answer: .none, useCertificate: true, options: ["-o", "ConnectTimeout=60"]) }
                }
                var failures: [String] = []
                for try await result in group where result.status != 0 { failures.append(result.stderr) }
                return failures
            }
            #expect(failures.isEmpty, "\(failures.count) of 100 failed after \(Date().timeIntervalSince(started)) s: \(failures.first ?? "")")
        }
    }

    @Test("authenticated connections are not counted per source; unauthenticated ones are")
    func unauthenticatedOnly() async throws {
        try await withBastion(configure: { $0.ssh.admission.perSource = 2 }) { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            // Three authenticated connections held open from the same address, one after the
            // other (two handshakes at once are the limit).
            let held = try await Self.holdConnections(alice, count: 3)
            defer { held.forEach { $0.signal(SIGKILL) } }
            let fourth = try await alice.ssh(["whoami"], answer: .none, useCertificate: true)
            #expect(fourth.status == 0, "\(fourth)")
            // Two idle handshakes use up the per-source limit: the next connection is refused.
            let idle = try (0..<2).map { _ in try TCPStream(port: bastion.endpoints.sshPort) }
            #expect(try await relayPoll(timeout: 10) { try await Self.metric(bastion, "bastion_ssh_handshakes_running") == 2 })
            let refused = try await alice.ssh(["whoami"], answer: .none, useCertificate: true)
            #expect(refused.status == 255, "\(refused)")
            let dropped = try await Self.metric(bastion, "bastion_ssh_dropped_connections_total")
            #expect(dropped ?? 0 >= 1)
            withExtendedLifetime(idle) {}
        }
    }

    @Test("a role's max_connections: the connection past it is ended with one line and audited; the older ones stay")
    func maxConnectionsPerUser() async throws {
        try await withBastion(configure: { $0.policy.roles["engineer"]?.maxConnections = 2 }) { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            var held = try await Self.holdConnections(alice, count: 2)
            defer { held.forEach { $0.signal(SIGKILL) } }
            let third = try await alice.ssh(["whoami"], answer: .none, useCertificate: true)
            // Told on the session channel (exit 1) or as the disconnect message (255), whichever comes first.
            #expect(third.status == 1 || third.status == 255, "\(third)")
            #expect(third.stderr.contains("bastion: you already hold 2 connections, the most your roles allow (max_connections)"), "\(third.stderr)")
            let endings = try bastion.auditRecords("connection.end").compactMap { $0["reason"] as? String }
            #expect(endings == ["max_connections (2) reached"], "\(endings)")
            let olderAlive = held.allSatisfy { $0.isRunning }
            #expect(olderAlive, "an older connection was ended")
            held.removeFirst().signal(SIGKILL)
            #expect(try await relayPoll(timeout: 10) { try await Self.metric(bastion, "bastion_ssh_connections_open") == 1 })
            let again = try await alice.ssh(["whoami"], answer: .none, useCertificate: true)
            #expect(again.status == 0, "\(again)")
        }
    }

    /// Idle, banner-only and key-exchange-stalled connections from eight sources hold every
    /// handshake slot and fill the queue; a login from another address still completes within
    /// 2 s (twice an unflooded login, if that is longer), and the threads they cost stay at the slot count. The long version (2,000 from 40
    /// sources, side by side with sshd) is `make bench`'s `hostile` suite.
    @Test("during a flood of stalled connections, a login from another address completes within 2 s (or twice an unflooded login on a loaded machine)")
    func flood() async throws {
        try await withBastion(configure: { $0.ssh.admission.start = 16 }) { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            // The same login without a flood, on the machine as loaded as it is now.
            var unflooded: [Double] = []
            for _ in 0..<2 {
                let started = Date()
                let login = try await alice.ssh(["whoami"], answer: .none, useCertificate: true)
                unflooded.append(Date().timeIntervalSince(started))
                #expect(login.status == 0, "\(login)")
            }
            var flood: [TCPStream] = []
            for index in 0..<240 {
                let stream = try TCPStream(port: bastion.endpoints.sshPort, from: "127.0.2.\(index % 8 + 1)")
                switch index % 3 {
                case 1: stream.send(Array("SSH-2.0-flood\r\n".utf8))
                case 2: stream.send(Array("SSH-2.0-flood\r\n".utf8) + [0, 0, 1, 0, 6, 20])  // a KEXINIT cut short
                default: break
                }
                flood.append(stream)
            }
            #expect(try await relayPoll(timeout: 20) {
                let running = try await Self.metric(bastion, "bastion_ssh_handshakes_running")
                let waiting = try await Self.metric(bastion, "bastion_ssh_handshakes_waiting")
                return running == 16 && waiting == 224
            })
            // One thread per open connection: the flood holds the 16 handshake slots, no more.
            let threads = try await Self.metric(bastion, "bastion_ssh_connections_open")
            try await Task.sleep(for: .milliseconds(1200))  // the flood's handshakes are now stalled
            // Up to five logins, one after the other: a CI machine running the other suites beside
            // this one may slow a login past 2 s, flood or not, so the bound is 2 s or twice the
            // best unflooded login, whichever is longer. A flood that starves logins holds them
            // until login_grace_time (60 s), far past either.
            let bound = max(2, 2 * (unflooded.min() ?? 0))
            var times: [Double] = []
            var statuses: [Int32] = []
            for _ in 0..<5 {
                let started = Date()
                let login = try await alice.ssh(["whoami"], answer: .none, useCertificate: true)
                times.append(Date().timeIntervalSince(started))
                statuses.append(login.status)
                if login.status == 0, let last = times.last, last < bound { break }
            }
            print("admission: logins during the flood took \(times.map { String(format: "%.2f", $0) }) s, without it \(unflooded.map { String(format: "%.2f", $0) }) s")
            #expect(statuses.last == 0, "\(statuses)")
            #expect(times.contains { $0 < bound }, "the logins took \(times) s, against \(unflooded) s without the flood")
            #expect(threads == 16, "\(threads ?? -1) connection threads for 240 connections")
            let pushedOut = try await Self.metric(bastion, "bastion_ssh_dropped_connections_total")
            #expect(pushedOut ?? 0 >= 1)
            withExtendedLifetime(flood) {}
        }
    }

    @Test("failed logins earn a source a refusal, audited once; other sources and exempt ones are unaffected")
    func penalties() async throws {
        // authfail:30s min:45s: refused after the second failure however slow a loaded machine
        // is between tries (with the defaults, 5s each against 15s, the third or fourth).
        try await withBastion(configure: {
            $0.ssh.penalties.exempt = try? CIDRList("127.0.4.0/24")
            $0.ssh.penalties.durations[.authFail] = 30
            $0.ssh.penalties.minimum = 45
        }) { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            let stranger = try await Engineer.makeKey(in: bastion.directory, name: "stranger", type: .ed25519)
            func attempt(from source: String) async throws -> ProcessRunner.Result {
                try await alice.ssh(["whoami"], answer: .none, keyPath: stranger, options: ["-b", source])
            }
            // Past min after two failures in a row, the source is refused before key exchange.
            // Each end is seen before the next try (the client may leave before the server
            // notices).
            var refusedAfter: Int?
            for failures in 0..<6 where refusedAfter == nil {
                let result = try await attempt(from: "127.0.3.1")
                if result.stderr.contains("Permission denied") {
                    #expect(try await relayPoll(timeout: 5) { try await Self.metric(bastion, "bastion_ssh_connections_open") == 0 })
                } else {
                    #expect(result.status == 255, "\(result)")
                    refusedAfter = failures
                }
            }
            #expect(refusedAfter == 2, "refused after \(refusedAfter.map(String.init) ?? "no") failures")
            let penalties = try bastion.auditRecords("ssh.penalty")
            #expect(penalties.count == 1, "\(penalties)")
            #expect((penalties.first?["details"] as? [String: String])?["source"] == "127.0.3.1")
            #expect((penalties.first?["details"] as? [String: String])?["cause"] == "authfail")
            // Another address is served; an exempt one is never refused.
            let other = try await alice.ssh(["whoami"], answer: .none, useCertificate: true)
            #expect(other.status == 0, "\(other)")
            for _ in 0..<5 {
                let exempt = try await attempt(from: "127.0.4.1")
                #expect(exempt.stderr.contains("Permission denied"), "\(exempt)")
            }
        }
    }
}
