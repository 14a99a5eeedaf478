import BastionCore
import BastionCrypto
import BastionTesting
import Foundation
import Testing

/// One suite for every store protocol, run against SQLite files and against a real PostgreSQL
/// server: whatever the daemon relies on must hold on both. "Two handles" below are two
/// processes on one SQLite file (daemon and CLI) or two nodes on one PostgreSQL database.
@Suite("Stores, SQLite and PostgreSQL")
struct StoreConformanceTests {
    static func makeUser(_ stores: StoreBackend.Stores, name: String = "alice") throws -> (UserName, SSHPublicKey) {
        let user = try #require(UserName(name))
        let key = SSHPublicKey(ed25519: try Ed25519PrivateKey().publicKey)
        try stores.users.createUser(User(name: user, roles: ["engineer", "auditor"], createdAt: Date()), key: key, sealedTOTPSecret: [1, 2, 3])
        return (user, key)
    }

    @Test("users, keys and owners round-trip; duplicates conflict", arguments: StoreBackend.allCases)
    func roundTrip(_ backend: StoreBackend) async throws {
        try await offPool {
            let stores = try backend.fresh().connect()
            let (alice, key) = try Self.makeUser(stores)
            #expect(try stores.users.user(named: alice)?.roles == ["engineer", "auditor"])
            #expect(try stores.users.user(named: alice)?.isLocked == false)
            #expect(try stores.users.keys(of: alice) == [key])
            #expect(try stores.users.owner(of: key) == alice)
            #expect(try stores.users.totpState(of: alice)?.sealedSecret == [1, 2, 3])
            #expect(throws: StoreError(.conflict, "")) { try Self.makeUser(stores) }
            let bob = try #require(UserName("bob"))
            #expect(throws: StoreError(.conflict, "")) {
                try stores.users.createUser(User(name: bob, roles: [], createdAt: Date()), key: key, sealedTOTPSecret: [])
            }
            #expect(try stores.users.user(named: bob) == nil)
            #expect(throws: StoreError(.notFound, "")) { try stores.users.addKey(key, to: bob, at: Date()) }
            let second = SSHPublicKey(ed25519: try Ed25519PrivateKey().publicKey)
            try stores.users.addKey(second, to: alice, at: Date().addingTimeInterval(1))
            #expect(try stores.users.keys(of: alice) == [key, second])
            #expect(try stores.users.setLocked(true, for: alice))
            #expect(try stores.users.user(named: alice)?.isLocked == true)
            #expect(try !stores.users.setLocked(true, for: bob))
            try stores.users.replaceTOTPSecret(of: alice, sealedSecret: [0, 255, 9])
            #expect(try stores.users.totpState(of: alice)?.sealedSecret == [0, 255, 9])
            #expect(throws: StoreError(.notFound, "")) { try stores.users.replaceTOTPSecret(of: bob, sealedSecret: []) }
            #expect(try stores.users.allUsers().map(\.name) == [alice])
            #expect(try stores.users.removeUser(named: alice))
            #expect(try stores.users.keys(of: alice).isEmpty)
            #expect(try stores.users.totpState(of: alice) == nil)
            #expect(try !stores.users.removeUser(named: alice))
        }
    }

    @Test("a TOTP step is consumed once, also by two handles racing", arguments: StoreBackend.allCases)
    func consumeOnce(_ backend: StoreBackend) async throws {
        let location = try await offPool { try backend.fresh() }
        let first = try await offPool { try location.connect(node: "node-a") }
        let second = try await offPool { try location.connect(node: "node-b") }
        let (alice, _) = try await offPool { try Self.makeUser(first) }
        let winners = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<20 {
                let store = index.isMultiple(of: 2) ? first.users : second.users
                group.addTask { (try? await offPool { try store.consumeTOTPStep(1000, for: alice) }) ?? false }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1)
        try await offPool { () throws in
            #expect(try !first.users.consumeTOTPStep(999, for: alice))
            #expect(try !second.users.consumeTOTPStep(1000, for: alice))
            #expect(try second.users.consumeTOTPStep(1001, for: alice))
        }
    }

    @Test("a re-wrap replaces the sealed seed only if unchanged, and a used code stays used", arguments: StoreBackend.allCases)
    func reseal(_ backend: StoreBackend) async throws {
        try await offPool {
            let stores = try backend.fresh().connect()
            let (alice, _) = try Self.makeUser(stores)
            let before = try #require(try stores.users.totpState(of: alice)?.sealedSecret)
            #expect(try stores.users.consumeTOTPStep(1000, for: alice))
            #expect(try stores.users.resealTOTPSecret(of: alice, from: before, to: [7, 7, 7]))
            #expect(try stores.users.totpState(of: alice)?.sealedSecret == [7, 7, 7])
            #expect(try !stores.users.consumeTOTPStep(1000, for: alice), "the replay state survives a re-wrap")
            // reset-totp won the race: the re-wrap of the old seed does not overwrite the new one.
            #expect(try !stores.users.resealTOTPSecret(of: alice, from: before, to: [8]))
            #expect(try stores.users.totpState(of: alice)?.sealedSecret == [7, 7, 7])
        }
    }

    @Test("failures count up to a lockout; success and unlock clear them", arguments: StoreBackend.allCases)
    func failures(_ backend: StoreBackend) async throws {
        try await offPool {
            let stores = try backend.fresh().connect()
            let (alice, _) = try Self.makeUser(stores)
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            #expect(try stores.users.recordTOTPFailure(for: alice, now: now, maxFailures: 2, lockout: 60).lockedUntil == nil)
            let locked = try stores.users.recordTOTPFailure(for: alice, now: now, maxFailures: 2, lockout: 60)
            #expect(locked.consecutiveFailures == 2)
            #expect(locked.lockedUntil == now.addingTimeInterval(60))
            try stores.users.clearFailures(of: alice)
            #expect(try stores.users.totpState(of: alice)?.lockedUntil == nil)
            _ = try stores.users.recordTOTPFailure(for: alice, now: now, maxFailures: 2, lockout: 60)
            #expect(try stores.users.consumeTOTPStep(5, for: alice))
            #expect(try stores.users.totpState(of: alice)?.consecutiveFailures == 0)
            let ghost = try #require(UserName("ghost"))
            #expect(throws: StoreError(.notFound, "")) { try stores.users.recordTOTPFailure(for: ghost, now: now, maxFailures: 2, lockout: 60) }
        }
    }

    @Test("the certificate ledger refuses a duplicate serial; full 64-bit serials and times round-trip", arguments: StoreBackend.allCases)
    func ledger(_ backend: StoreBackend) async throws {
        try await offPool {
            let stores = try backend.fresh().connect()
            let alice = try #require(UserName("alice"))
            let issued = Date(timeIntervalSince1970: 1_800_000_000.123456)
            let certificate = IssuedCertificate(
                serial: UInt64.max - 1, user: alice, keyFingerprint: "SHA256:x", keyID: "k",
                validAfter: issued, validBefore: issued.addingTimeInterval(14_400), sourceAddress: "::1", issuedAt: issued
            )
            try stores.ledger.record(certificate)
            #expect(try stores.ledger.certificate(serial: UInt64.max - 1) == certificate)
            #expect(try stores.ledger.certificate(serial: 7) == nil)
            #expect(throws: StoreError(.conflict, "")) { try stores.ledger.record(certificate) }
        }
    }

    @Test("a sign-in link is used once; late use is refused and uses it up; sessions expire and are removed", arguments: StoreBackend.allCases)
    func webSessions(_ backend: StoreBackend) async throws {
        try await offPool {
            let stores = try backend.fresh().connect()
            defer { withExtendedLifetime(stores) {} }
            let store = stores.webSessions
            let carol = try #require(UserName("carol"))
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            try store.addSignInLink(tokenHash: "h1", user: carol, createdAt: now, expiresAt: now.addingTimeInterval(60))
            try store.addSignInLink(tokenHash: "h2", user: carol, createdAt: now, expiresAt: now.addingTimeInterval(60))
            #expect(try store.consumeSignInLink(tokenHash: "h1", now: now.addingTimeInterval(59)) == .valid(carol))
            #expect(try store.consumeSignInLink(tokenHash: "h1", now: now.addingTimeInterval(59)) == .used(carol))
            #expect(try store.consumeSignInLink(tokenHash: "h2", now: now.addingTimeInterval(60)) == .expired(carol))
            #expect(try store.consumeSignInLink(tokenHash: "h2", now: now.addingTimeInterval(60)) == .used(carol))
            #expect(try store.consumeSignInLink(tokenHash: "nope", now: now) == .unknown)

            let session = WebSession(tokenHash: "s1", user: carol, createdAt: now, expiresAt: now.addingTimeInterval(3_600))
            try store.addWebSession(session)
            #expect(try store.webSession(tokenHash: "s1", now: now.addingTimeInterval(3_599)) == session)
            #expect(try store.webSession(tokenHash: "s1", now: now.addingTimeInterval(3_600)) == nil)
            #expect(try store.purgeWebSessions(expiredBefore: now.addingTimeInterval(3_601)) == 3)
            #expect(try store.removeWebSession(tokenHash: "s1") == nil)
            try store.addWebSession(session)
            #expect(try store.removeWebSession(tokenHash: "s1") == session)
            #expect(try store.webSession(tokenHash: "s1", now: now) == nil)
        }
    }

    @Test("elevation requests: insert once, compare-and-swap updates, listed by requester and by state", arguments: StoreBackend.allCases)
    func elevations(_ backend: StoreBackend) async throws {
        try await offPool {
            let location = try backend.fresh()
            let store = try location.connect().elevations
            let other = try location.connect(node: "node-b").elevations
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            func request(_ id: ElevationID, by requester: String, at offset: TimeInterval) -> ElevationRequest {
                ElevationRequest(
                    id: id, requester: requester, target: "web01", login: "root", reason: "deploy \(id)", duration: 900, origin: "ssh",
                    createdAt: start.addingTimeInterval(offset), expiresAt: start.addingTimeInterval(offset + 900), approvalsRequired: 1
                )
            }
            try store.insert(request("r1", by: "alice", at: 0))
            try store.insert(request("r2", by: "alice", at: 10))
            try store.insert(request("r3", by: "dave", at: 5))
            #expect(throws: StoreError(.conflict, "")) { try store.insert(request("r1", by: "alice", at: 0)) }

            var approved = try #require(try other.request(id: "r1"))
            #expect(approved == request("r1", by: "alice", at: 0))
            approved.restore(
                state: .active, decisions: [.init(approver: "bob", approved: true, comment: "ok", at: start.addingTimeInterval(30), via: "ssh")],
                grantStartedAt: start.addingTimeInterval(30), grantEndsAt: start.addingTimeInterval(930), closedAt: nil, closeReason: nil
            )
            approved.linkUsed = true
            #expect(try other.update(approved))
            // The same version again: someone else changed it first, nothing is written.
            var late = approved
            try late.revoke(at: start.addingTimeInterval(60), reason: "late")
            #expect(try !store.update(late))
            let stored = try #require(try store.request(id: "r1"))
            #expect(stored.state == .active)
            #expect(stored.version == 1)
            #expect(stored.decisions == approved.decisions)
            #expect(stored.grantEndsAt == start.addingTimeInterval(930))
            #expect(stored.linkUsed)

            #expect(try store.requests(of: "alice", limit: 10).map(\.id) == ["r2", "r1"])
            #expect(try store.requests(of: "alice", limit: 1).map(\.id) == ["r2"])
            #expect(try store.requests(in: [.requested]).map(\.id) == ["r3", "r2"])
            #expect(try store.requests(in: [.requested, .active]).map(\.id) == ["r1", "r3", "r2"])
            #expect(try store.requests(in: []).isEmpty)
            try store.remove(id: "r3")
            #expect(try other.request(id: "r3") == nil)
        }
    }

    @Test("live sessions: registered, listed, killed on request, ended", arguments: StoreBackend.allCases)
    func sessions(_ backend: StoreBackend) async throws {
        try await offPool {
            let location = try backend.fresh()
            let daemon = try location.connect().sessions
            let cli = try location.connect(node: "node-b").sessions
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            let first = SessionRecord(
                id: "s1", user: "alice", login: "root", target: "web01", sourceAddress: "127.0.0.1", kind: "shell", startedAt: start,
                recording: "/r/s1.cast"
            )
            var second = first
            second.id = "s2"
            second.startedAt = start.addingTimeInterval(5)
            second.recording = nil
            try daemon.register(first)
            try daemon.register(second)
            #expect(try cli.liveSessions() == [first, second])
            // A connection that only forwards lists the destinations it opened so far.
            try daemon.updateTarget(id: "s2", target: "10.0.0.9:5432,10.0.0.9:22")
            second.target = "10.0.0.9:5432,10.0.0.9:22"
            #expect(try cli.liveSessions() == [first, second])
            #expect(try daemon.endRequest(id: "s1") == nil)
            #expect(try daemon.endRequest(id: "not-yet-registered") == nil)
            #expect(try cli.requestKill(id: "s1"))
            #expect(try daemon.endRequest(id: "s1") == .kill)
            #expect(try !cli.requestKill(id: "nope"))
            try daemon.markEnded(id: "s1", at: start.addingTimeInterval(60))
            #expect(try !cli.requestKill(id: "s1"))
            #expect(try cli.liveSessions() == [second])
            #expect(try daemon.endAbandoned(at: start.addingTimeInterval(120)) == [second])
            #expect(try cli.liveSessions().isEmpty)
            // A session whose row was ended by someone else while it still runs must end too.
            #expect(try daemon.endRequest(id: "s2") == .endedElsewhere)
        }
    }
}

/// The delivery outbox and the session catalog, on both backends.
@Suite("Outbox and catalog, SQLite and PostgreSQL")
struct OutboxCatalogConformanceTests {
    static func event(_ index: Int) -> AuditEvent {
        AuditEvent(type: .authLogin, time: Date(timeIntervalSince1970: 1_800_000_000 + Double(index)), actor: .init(user: "u\(index)"))
    }

    @Test("audit search: a glob over types and over the path detail of file operations", arguments: StoreBackend.allCases)
    func fileSearch(_ backend: StoreBackend) async throws {
        try await offPool {
            let stores = try backend.fresh().connect()
            let time = Date(timeIntervalSince1970: 1_800_000_000)
            func file(_ type: AuditEventType, _ path: String) -> AuditEvent {
                AuditEvent(type: type, time: time, actor: .init(user: "alice"), details: ["path": path, "session_id": "s1"])
            }
            try stores.auditLog.append(file(.fileOpen, "/etc/passwd"))
            try stores.auditLog.append(file(.fileClose, "/etc/passwd"))
            try stores.auditLog.append(file(.fileRemove, "/tmp/x_1%"))
            try stores.auditLog.append(AuditEvent(type: .sessionEnd, time: time, details: ["path": "/etc/passwd"]))
            try stores.auditLog.append(file(.fileMkdir, "/etc2"))
            #expect(try stores.auditLog.search(AuditQuery(type: "file.*")).map(\.seq) == [1, 2, 3, 5])
            #expect(try stores.auditLog.search(AuditQuery(type: "file.*", path: "/etc/*")).map(\.seq) == [1, 2])
            #expect(try stores.auditLog.search(AuditQuery(type: "file.?????")).map(\.seq) == [2, 5])
            // LIKE's own wildcards in a pattern are plain characters.
            #expect(try stores.auditLog.search(AuditQuery(path: "/tmp/x_1%")).map(\.seq) == [3])
            #expect(try stores.auditLog.search(AuditQuery(path: "/tmp/x%1*")).isEmpty)
            #expect(try stores.auditLog.search(AuditQuery(type: "file.open")).map(\.seq) == [1])
        }
    }

    @Test("a new sink starts at the head; records after its cursor are pending; advance, dead letters, failures, streams", arguments: StoreBackend.allCases)
    func outbox(_ backend: StoreBackend) async throws {
        try await offPool {
            let stores = try backend.fresh().connect()
            for index in 1...5 { try stores.auditLog.append(Self.event(index)) }
            let now = Date(timeIntervalSince1970: 1_800_000_100)
            #expect(try stores.outbox.holdLease("soc", now: now))
            #expect(try stores.outbox.cursor(of: "soc", now: now) == 5)
            for index in 6...8 { try stores.auditLog.append(Self.event(index)) }
            let pending = try stores.outbox.pending(after: 5, limit: 10)
            #expect(pending.map(\.seq) == [6, 7, 8])
            #expect(pending.first?.event == Self.event(6).canonicalJSON())
            #expect(try stores.outbox.pending(after: 5, limit: 2).map(\.seq) == [6, 7])

            try stores.outbox.recordFailure("soc", reason: "connection refused", now: now)
            #expect(try stores.outbox.state(of: "soc")?.attempts == 1)
            #expect(try stores.outbox.state(of: "soc")?.lastError == "connection refused")
            try stores.outbox.advance("soc", to: 7, rejected: [(6, "400 bad event")], now: now)
            let state = try #require(try stores.outbox.state(of: "soc"))
            #expect(state.deliveredSeq == 7)
            #expect(state.depth == 1)
            #expect(state.attempts == 0)
            #expect(state.deadLetters == 1)
            #expect(try stores.outbox.deadLetters(of: "soc").map(\.seq) == [6])
            #expect(try stores.outbox.deadLetters(of: "other").isEmpty)
            #expect(try stores.outbox.deadLetters().map(\.reason) == ["400 bad event"])
            try stores.outbox.advance("soc", to: 3, now: now)
            #expect(try stores.outbox.cursor(of: "soc", now: now) == 7, "a cursor never moves back")

            // Checkpoints reach the sink once it has the records they seal.
            let checkpoint = try #require(try stores.auditLog.checkpoint())
            #expect(checkpoint.seq == 8)
            #expect(try stores.outbox.pendingCheckpoints(of: "soc").isEmpty)
            try stores.outbox.advance("soc", to: 8, now: now)
            #expect(try stores.outbox.pendingCheckpoints(of: "soc").map(\.seq) == [8])
            try stores.outbox.advanceCheckpoints("soc", to: 8)
            #expect(try stores.outbox.pendingCheckpoints(of: "soc").isEmpty)

            try stores.outbox.openStream("soc", sessionID: "s1", path: "/r/s1.cast")
            try stores.outbox.openStream("soc", sessionID: "s2", path: "/r/s2.cast")
            try stores.outbox.openStream("soc", sessionID: "s1", path: "/r/s1.cast")
            try stores.outbox.advanceStream("soc", sessionID: "s1", deliveredBytes: 4096, nextChunk: 3)
            #expect(try stores.outbox.streams(of: "soc") == [
                OutboxStream(sessionID: "s1", path: "/r/s1.cast", deliveredBytes: 4096, nextChunk: 3),
                OutboxStream(sessionID: "s2", path: "/r/s2.cast", deliveredBytes: 0, nextChunk: 1),
            ])
            try stores.outbox.closeStream("soc", sessionID: "s1")
            #expect(try stores.outbox.streams(of: "soc").map(\.sessionID) == ["s2"])
        }
    }

    @Test("the session catalog: facts, filters, newest first, all words required, indexed position", arguments: StoreBackend.allCases)
    func catalog(_ backend: StoreBackend) async throws {
        try await offPool {
            let stores = try backend.fresh().connect()
            defer { withExtendedLifetime(stores) {} }
            let catalog = stores.catalog
            let start = Date(timeIntervalSince1970: 1_800_000_000)
            func session(_ id: SessionID, user: String, target: String, at offset: TimeInterval, seq: Int64) -> IndexedSession {
                IndexedSession(
                    id: id, user: user, login: "root", target: target, sourceAddress: "127.0.0.1", startedAt: start.addingTimeInterval(offset),
                    duration: 60, exitStatus: "0", endReason: "exit", recording: "/r/\(id).cast", recordingSize: 1234, recordingSHA256: "ab",
                    elevationRequest: id == "s2" ? "e-1" : nil, auditSeq: seq
                )
            }
            #expect(try catalog.indexedThrough() == 0)
            try catalog.add(session("s1", user: "alice", target: "web01", at: 0, seq: 10), text: "root@web01:~# systemctl restart nginx\r\nok")
            try catalog.add(session("s2", user: "bob", target: "db01", at: 100, seq: 20), text: "psql -c 'DROP TABLE customers'")
            try catalog.add(session("s3", user: "alice", target: "db01", at: 200, seq: 30), text: "tail -f /var/log/nginx/error.log")
            try catalog.add(session("s3", user: "alice", target: "db01", at: 200, seq: 31), text: "ignored: already indexed")
            #expect(try catalog.indexedThrough() == 31)
            try catalog.markIndexed(through: 40)
            try catalog.markIndexed(through: 35)
            #expect(try catalog.indexedThrough() == 40)
            #expect(try catalog.session(id: "s2") == session("s2", user: "bob", target: "db01", at: 100, seq: 20))
            #expect(try catalog.session(id: "nope") == nil)

            #expect(try catalog.search(SessionQuery()).map(\.id) == ["s3", "s2", "s1"])
            #expect(try catalog.search(SessionQuery(limit: 2)).map(\.id) == ["s3", "s2"])
            #expect(try catalog.search(SessionQuery(user: "alice")).map(\.id) == ["s3", "s1"])
            #expect(try catalog.search(SessionQuery(target: "db01")).map(\.id) == ["s3", "s2"])
            #expect(try catalog.search(SessionQuery(since: start.addingTimeInterval(150))).map(\.id) == ["s3", "s2"], "s2 ran until 160")
            #expect(try catalog.search(SessionQuery(since: start.addingTimeInterval(170))).map(\.id) == ["s3"])
            #expect(try catalog.search(SessionQuery(until: start.addingTimeInterval(150))).map(\.id) == ["s2", "s1"])
            #expect(try catalog.search(SessionQuery(grep: "nginx")).map(\.id) == ["s3", "s1"])
            #expect(try catalog.search(SessionQuery(grep: "NGINX restart")).map(\.id) == ["s1"])
            #expect(try catalog.search(SessionQuery(grep: "drop customers")).map(\.id) == ["s2"])
            #expect(try catalog.search(SessionQuery(grep: "nginx customers")).isEmpty)
            #expect(try catalog.search(SessionQuery(user: "alice", grep: "error")).map(\.id) == ["s3"])
            #expect(try catalog.search(SessionQuery(grep: "ignored")).isEmpty)

            // A catch-up's sessions in one transaction: a known id keeps its first entry.
            try catalog.add([
                SessionCatalogEntry(session("s4", user: "carol", target: "web01", at: 300, seq: 44), text: "df -h"),
                SessionCatalogEntry(session("s1", user: "alice", target: "web01", at: 0, seq: 45), text: "ignored too"),
            ], indexedThrough: 48)
            #expect(try catalog.indexedThrough() == 48)
            #expect(try catalog.search(SessionQuery(grep: "df")).map(\.id) == ["s4"])
            #expect(try catalog.search(SessionQuery(grep: "ignored")).isEmpty)
            #expect(try catalog.search(SessionQuery()).map(\.id) == ["s4", "s3", "s2", "s1"])

            // A text past PostgreSQL's tsvector limit (1 MB of lexemes) falls back to its first
            // 256 KiB inside the batch, and the session after it is still added.
            let huge = (0 ..< 150_000).map { "w" + String(1_000_000 + $0) }.joined(separator: " ")
            try catalog.add([
                SessionCatalogEntry(session("s5", user: "dave", target: "web01", at: 400, seq: 50), text: huge),
                SessionCatalogEntry(session("s6", user: "erin", target: "web01", at: 500, seq: 51), text: "uptime"),
            ], indexedThrough: 51)
            #expect(try catalog.indexedThrough() == 51)
            #expect(try catalog.search(SessionQuery(grep: "w1000001")).map(\.id) == ["s5"])
            #expect(try catalog.search(SessionQuery(grep: "uptime")).map(\.id) == ["s6"])
        }
    }
}
