import BastionCore
import BastionCrypto
import BastionPostgres
import BastionTesting
import Foundation
import Testing

/// What only the PostgreSQL backend has to get right: nodes starting together, a server that
/// goes away and comes back, and sessions that belong to one node.
@Suite("PostgreSQL store")
struct PostgresStoreTests {
    @Test("two nodes starting at once migrate the schema once between them; a third open applies nothing")
    func concurrentMigrations() async throws {
        let fixture = try await offPool { try PostgresFixture.shared() }
        let url = try await offPool { try fixture.createDatabase() }
        async let first = offPool { try PostgresDatabase(url: url).isReachable }
        async let second = offPool { try PostgresDatabase(url: url).isReachable }
        #expect(try await first)
        #expect(try await second)
        let applied = try await offPool { try fixture.psql("SELECT count(*), count(DISTINCT id) FROM bastion_migrations", database: Self.name(of: url)) }
        let counts = applied.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|")
        #expect(counts.count == 2 && counts[0] == counts[1] && counts[0] != "0", "\(applied)")
        #expect(try await offPool { try PostgresDatabase(url: url).isReachable })
    }

    @Test("a server that cannot be reached: opening fails with a clear error naming PostgreSQL")
    func unreachableAtOpen() async throws {
        let refusing = try RefusingPort()
        let error = try await offPool { () -> StoreError? in
            do {
                _ = try PostgresDatabase(url: "postgres://bastion@127.0.0.1:\(refusing.port)/bastion")
                return nil
            } catch let error as StoreError {
                return error
            }
        }
        #expect(error?.code == .unavailable)
        #expect(error?.detail.contains("PostgreSQL unreachable") == true, "\(String(describing: error))")
    }

    @Test("server restarted: calls fail closed (unavailable) while it is down and work again once it is back, nothing lost")
    func restart() async throws {
        let fixture = try await PostgresFixture.launch()
        let url = try await offPool { try fixture.createDatabase() }
        let users = try await offPool { PostgresUserStore(database: try PostgresDatabase(url: url)) }
        let alice = try #require(UserName("alice"))
        try await offPool {
            let key = SSHPublicKey(ed25519: try Ed25519PrivateKey().publicKey)
            try users.createUser(User(name: alice, roles: ["engineer"], createdAt: Date()), key: key, sealedTOTPSecret: [4, 2])
            #expect(try users.consumeTOTPStep(10, for: alice))
        }
        // Several connections sit idle in the pool when the server goes away, as in a daemon.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<4 { group.addTask { _ = try await offPool { try users.allUsers() } } }
            try await group.waitForAll()
        }
        try await offPool { fixture.stop() }
        let down = try await offPool { () -> StoreError? in
            do {
                _ = try users.user(named: alice)
                return nil
            } catch let error as StoreError {
                return error
            }
        }
        #expect(down?.code == .unavailable, "\(String(describing: down))")
        #expect(try await offPool { (try? users.consumeTOTPStep(11, for: alice)) == nil })
        try await offPool { try fixture.start() }
        try await offPool { () throws in
            #expect(try users.user(named: alice)?.roles == ["engineer"])
            #expect(try !users.consumeTOTPStep(10, for: alice))
            #expect(try users.consumeTOTPStep(11, for: alice))
        }
    }

    @Test("a node restarting ends only its own abandoned sessions, not those its peers relay")
    func abandonedSessionsPerNode() async throws {
        try await offPool {
            let (nodeA, nodeB, onA, onB) = try Self.twoNodesRelayingOneSessionEach()
            let start = onA.startedAt
            #expect(try nodeA.endAbandoned(at: start.addingTimeInterval(60)) == [onA])
            #expect(try nodeA.liveSessions() == [onB])
            #expect(try nodeB.requestKill(id: "b1"))
        }
    }

    @Test("a node taken for silent learns at its next check that its sessions were ended by another node")
    func sessionsEndedBySurvivingNode() async throws {
        try await offPool {
            let (nodeA, nodeB, onA, _) = try Self.twoNodesRelayingOneSessionEach()
            let start = onA.startedAt
            try nodeA.heartbeat()
            try nodeB.heartbeat()
            #expect(try nodeB.endSessionsOfSilentNodes(silentFor: 60, at: start).isEmpty, "node A beat just now")
            #expect(try nodeA.endRequest(id: "a1") == nil)
            // Node A is paused: B sees it silent (here: for more than 0 s) and ends its session.
            usleep(20_000)
            #expect(try nodeB.endSessionsOfSilentNodes(silentFor: 0.01, at: start.addingTimeInterval(30)) == [onA])
            #expect(try nodeA.endRequest(id: "a1") == .endedElsewhere)
            #expect(try nodeB.endRequest(id: "b1") == nil, "B's own session goes on")
        }
    }

    @Test("two nodes appending at once form one audit chain: every record once, no seq twice, verify passes")
    func twoNodesOneChain() async throws {
        let url = try await offPool { try PostgresFixture.shared().createDatabase() }
        let key = try Ed25519PrivateKey()
        let nodes = try await offPool {
            try ["node-a", "node-b"].map { _ in
                PostgresAuditLog(database: try PostgresDatabase(url: url), sealing: .init(key: key, every: 50))
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<8 {
                let log = nodes[worker % 2]
                group.addTask {
                    try await offPool {
                        for index in 0..<60 {
                            try log.append(AuditEvent(type: .authLogin, time: Date(), actor: .init(user: "u\(worker)"), details: ["n": String(index)]))
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let (report, records) = try await offPool {
            (try nodes[1].verify(publicKey: key.publicKey, purgeableBefore: .distantPast), try nodes[0].search(AuditQuery()))
        }
        #expect(report.isIntact, "\(report.problems)")
        #expect(report.recordsChecked == 480)
        #expect(records.map(\.seq) == Array(1...480))
        #expect(Set(records.map { "\($0.user ?? "")/\($0.json)" }).count == 480)
        #expect(report.lastCheckpointSeq ?? 0 >= 450)
    }

    /// Two nodes' session stores on a fresh database; each has registered one live session.
    private static func twoNodesRelayingOneSessionEach() throws -> (
        nodeA: PostgresSessionStore, nodeB: PostgresSessionStore, onA: SessionRecord, onB: SessionRecord
    ) {
        let url = try PostgresFixture.shared().createDatabase()
        let nodeA = PostgresSessionStore(database: try PostgresDatabase(url: url), node: "node-a")
        let nodeB = PostgresSessionStore(database: try PostgresDatabase(url: url), node: "node-b")
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let onA = SessionRecord(id: "a1", user: "alice", login: "root", target: "web01", sourceAddress: "::1", kind: "shell", startedAt: start, recording: nil)
        var onB = onA
        onB.id = "b1"
        try nodeA.register(onA)
        try nodeB.register(onB)
        return (nodeA, nodeB, onA, onB)
    }

    private static func name(of url: String) -> String {
        String(url.split(separator: "/").last ?? "")
    }
}

/// Delivery leases: one node at a time delivers a sink; a dead node's sink is taken over.
@Suite("PostgreSQL outbox leases")
struct PostgresOutboxLeaseTests {
    @Test("one node holds a sink's lease; when it stops renewing, another takes over and the first is fenced off")
    func takeover() async throws {
        let url = try await offPool { try PostgresFixture.shared().createDatabase() }
        let (nodeA, nodeB, log) = try await offPool { () throws in
            let a = try PostgresDatabase(url: url)
            let b = try PostgresDatabase(url: url)
            return (
                PostgresOutbox(database: a, node: "node-a", leaseDuration: 1), PostgresOutbox(database: b, node: "node-b", leaseDuration: 1),
                PostgresAuditLog(database: a, sealing: .init(key: nil))
            )
        }
        try await offPool { () throws in
            let now = Date()
            #expect(try nodeA.holdLease("soc", now: now))
            #expect(try !nodeB.holdLease("soc", now: now))
            #expect(try nodeA.holdLease("soc", now: now), "the holder renews")
            #expect(try nodeB.holdLease("other", now: now), "leases are per sink")
            _ = try nodeA.cursor(of: "soc", now: now)
            for index in 1...3 { try log.append(AuditEvent(type: .authLogin, time: now, actor: .init(user: "u\(index)"))) }
        }
        try await Task.sleep(for: .milliseconds(1_300))
        try await offPool { () throws in
            let now = Date()
            #expect(try nodeB.holdLease("soc", now: now), "node-a stopped renewing: node-b takes over")
            #expect(try !nodeA.holdLease("soc", now: now))
            // node-a comes back from a long pause and tries to move the cursor: refused.
            try nodeA.advance("soc", to: 3, rejected: [(2, "late")], now: now)
            #expect(try nodeB.cursor(of: "soc", now: now) == 0)
            #expect(try nodeB.deadLetters(of: "soc").isEmpty)
            try nodeB.advance("soc", to: 3, now: now)
            #expect(try nodeA.cursor(of: "soc", now: now) == 3)
            try nodeB.releaseLeases()
            #expect(try nodeA.holdLease("soc", now: now), "a released lease is free at once")
        }
    }
}
