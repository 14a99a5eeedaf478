import BastionDelivery
import BastionCore
import BastionPostgres
import BastionTesting
import Foundation
import Testing

/// Two nodes relaying the same sink from one PostgreSQL outbox: one delivers at a time, and a
/// node killed mid-delivery (it stops stepping after a send, before its cursor moved) loses
/// nothing: the other takes over once its lease lapses and re-sends at most that batch.
@Suite("SIEM outbox relay on two nodes")
struct SinkRelayLeaseTests {
    typealias ScriptedSink = SinkRelayTests.ScriptedSink

    @Test("each record goes out from one node at a time; a node killed mid-delivery is taken over, nothing lost")
    func twoNodes() async throws {
        let url = try await offPool { try PostgresFixture.shared().createDatabase() }
        let (log, outboxA, outboxB) = try await offPool { () throws in
            let a = try PostgresDatabase(url: url)
            let b = try PostgresDatabase(url: url)
            return (
                PostgresAuditLog(database: a, sealing: .init(key: nil)),
                PostgresOutbox(database: a, node: "node-a", leaseDuration: 1), PostgresOutbox(database: b, node: "node-b", leaseDuration: 1)
            )
        }
        let sink = ScriptedSink()
        let relayA = SinkRelay(sink: sink, outbox: outboxA, installation: "test", batchLimit: 3, random: { 0.5 })
        let relayB = SinkRelay(sink: sink, outbox: outboxB, installation: "test", batchLimit: 3, random: { 0.5 })
        try await offPool { () throws in
            #expect(try relayA.step() == .idle, "node-a holds the lease; the sink starts at the head")
            #expect(try relayB.step() == .standby)
            for index in 1...7 { try log.append(AuditEvent(type: .authLogin, time: Date(), actor: .init(user: "u\(index)"))) }
            #expect(try relayA.step() == .delivered(count: 3, through: 3))
            #expect(try relayB.step() == .standby, "node-b never delivers while node-a holds the lease")
            #expect(sink.received == [1, 2, 3])
        }
        // node-a is killed -9 right after sending 4…6 and before committing its cursor: the
        // send happened, the cursor did not move (simulated by a send outside the relay).
        try sink.deliver([4, 5, 6].map { seq in
            SIEMRecord(seq: seq, eventID: SinkRelay.eventID(installation: "test", seq: seq), event: AuditEvent(type: .authLogin, time: Date()), canonicalJSON: [])
        })
        try await Task.sleep(for: .milliseconds(1_300))
        try await offPool { () throws in
            #expect(try relayB.step() == .delivered(count: 3, through: 6), "node-b takes over from the committed cursor")
            #expect(try relayB.step() == .delivered(count: 1, through: 7))
            #expect(try relayB.step() == .idle)
            #expect(try relayA.step() == .standby, "node-a, back, finds the sink taken")
        }
        // At least once: 4…6 twice (receivers de-duplicate on the event id), nothing missing.
        #expect(sink.received == [1, 2, 3, 4, 5, 6, 4, 5, 6, 7])
        #expect(Set(sink.received) == Set(1...7))
    }
}
