import BastionDelivery
import BastionCore
import BastionCrypto
import BastionStore
import BastionTesting
import Foundation
import Synchronization
import Testing

/// The SIEM outbox and its relay over a real SQLite file, with a scripted sink standing in
/// for the receiver (the real receivers are tested with the sinks themselves).
@Suite("SIEM outbox relay")
struct SinkRelayTests {
    /// A receiver whose answers the test scripts: down, up, refusing some records.
    final class ScriptedSink: SIEMSink {
        let name: String
        let filter: @Sendable (String) -> Bool
        private let state = Mutex<(down: Bool, refuse: Set<Int64>, received: [Int64], checkpoints: [Int64], calls: Int, types: [String])>((false, [], [], [], 0, []))

        init(name: String = "soc", filter: @escaping @Sendable (String) -> Bool = { _ in true }) {
            self.name = name
            self.filter = filter
        }

        func accepts(_ type: String) -> Bool { filter(type) }

        func deliver(_ records: [SIEMRecord]) throws(SIEMDeliveryError) {
            let outcome: SIEMDeliveryError? = state.withLock { state in
                state.calls += 1
                if state.down { return SIEMDeliveryError(.retryable, "connection refused") }
                if let bad = records.first(where: { state.refuse.contains($0.seq) }) {
                    return SIEMDeliveryError(.rejected, "400 invalid event \(bad.seq)")
                }
                state.types += records.map(\.event.type.name)
                state.received += records.filter { $0.event.type != .auditCheckpoint && $0.event.type != .sessionData }.map(\.seq)
                state.checkpoints += records.filter { $0.event.type == .auditCheckpoint }.map(\.seq)
                return nil
            }
            if let outcome { throw outcome }
        }

        func set(down: Bool) { state.withLock { $0.down = down } }
        func refuse(_ seqs: Set<Int64>) { state.withLock { $0.refuse = seqs } }
        var received: [Int64] { state.withLock { $0.received } }
        var checkpoints: [Int64] { state.withLock { $0.checkpoints } }
        var types: [String] { state.withLock { $0.types } }
    }

    struct Fixture {
        let directory: TemporaryDirectory
        let handle: DatabasePoolHandle
        let clock = ManualClock()

        init() throws {
            directory = try TemporaryDirectory()
            handle = try DatabasePoolHandle(path: directory.file("bastion.sqlite"), sealing: .init(key: try Ed25519PrivateKey()), clock: clock)
        }

        func append(_ count: Int, type: AuditEventType = .authLogin) throws {
            for _ in 0..<count { try handle.auditLog.append(AuditEvent(type: type, time: clock.now(), actor: .init(user: "alice"))) }
        }

        func relay(_ sink: ScriptedSink, batch: Int = 500, streamSessions: Bool = false) -> SinkRelay {
            SinkRelay(
                sink: sink, outbox: handle.siemOutbox, installation: "test", clock: clock, batchLimit: batch, streamSessions: streamSessions,
                random: { 0.5 }
            )
        }
    }

    @Test("a new sink starts at the head; later records arrive in order with stable ids")
    func inOrder() throws {
        let fixture = try Fixture()
        try fixture.append(3)
        let sink = ScriptedSink()
        let relay = fixture.relay(sink, batch: 2)
        #expect(try relay.step() == .idle, "records before the sink existed are not sent")
        try fixture.append(5)
        #expect(try relay.step() == .delivered(count: 2, through: 5))
        #expect(try relay.step() == .delivered(count: 2, through: 7))
        #expect(try relay.step() == .delivered(count: 1, through: 8))
        #expect(try relay.step() == .idle)
        #expect(sink.received == [4, 5, 6, 7, 8])
        #expect(SinkRelay.eventID(installation: "test", seq: 4) == "bastion-test-4")
    }

    @Test("a receiver that is down loses nothing: backoff grows, delivery resumes, even from a new process")
    func outage() throws {
        let fixture = try Fixture()
        let sink = ScriptedSink()
        #expect(try fixture.relay(sink).step() == .idle)
        try fixture.append(4)
        sink.set(down: true)
        let relay = fixture.relay(sink)
        var delays: [TimeInterval] = []
        for _ in 0..<4 {
            guard case .retryLater(let delay, let reason) = try relay.step() else { Issue.record("expected a retry"); return }
            #expect(reason == "connection refused")
            delays.append(delay)
        }
        #expect(delays == [0.375, 0.75, 1.5, 3.0], "equal jitter at 0.5: three quarters of 0.5 s, doubling")
        let state = try #require(try fixture.handle.siemOutbox.state(of: "soc"))
        #expect(state.depth == 4)
        #expect(state.attempts == 4)
        #expect(state.lastError == "connection refused")
        try fixture.append(2)
        sink.set(down: false)
        // A fresh relay (as after a restart) resumes from the committed cursor.
        #expect(try fixture.relay(sink).step() == .delivered(count: 6, through: 6))
        #expect(sink.received == [1, 2, 3, 4, 5, 6])
        #expect(try fixture.handle.siemOutbox.state(of: "soc")?.depth == 0)
    }

    @Test("refused records are dead-lettered one by one with the receiver's reason; the rest go through")
    func deadLetters() throws {
        let fixture = try Fixture()
        let sink = ScriptedSink()
        #expect(try fixture.relay(sink).step() == .idle)
        try fixture.append(5)
        sink.refuse([2, 4])
        #expect(try fixture.relay(sink).step() == .delivered(count: 3, through: 5))
        #expect(sink.received == [1, 3, 5])
        let letters = try fixture.handle.siemOutbox.deadLetters(of: "soc")
        #expect(letters.map(\.seq) == [2, 4])
        #expect(letters.first?.reason == "400 invalid event 2")
    }

    @Test("each signed checkpoint follows the records it seals, once, so a copy lives outside the host")
    func checkpoints() throws {
        let fixture = try Fixture()
        let sink = ScriptedSink()
        let relay = fixture.relay(sink)
        #expect(try relay.step() == .idle)
        try fixture.append(3)
        try fixture.handle.auditLog.checkpoint()
        #expect(try relay.step() == .delivered(count: 3, through: 3))
        #expect(try relay.step() == .delivered(count: 1, through: 3), "then the checkpoint at 3")
        #expect(try relay.step() == .idle)
        #expect(sink.checkpoints == [3])
        try fixture.append(2)
        #expect(try relay.step() == .delivered(count: 2, through: 5))
        #expect(try relay.step() == .idle, "no checkpoint yet for 4-5")
        try fixture.handle.auditLog.checkpoint()
        #expect(try relay.step() == .delivered(count: 1, through: 5))
        #expect(sink.checkpoints == [3, 5])
        let record = SinkRelay.checkpointRecord(try #require(fixture.handle.auditLog.checkpoints().last), installation: "x")
        #expect(record.eventID == "bastion-x-checkpoint-5")
        #expect(record.event.details["signature"]?.isEmpty == false)
    }

    @Test("a relay that is behind still streams a whole session between its start and its end")
    func streamingWhenBehind() throws {
        let fixture = try Fixture()
        let sink = ScriptedSink()
        let relay = fixture.relay(sink, streamSessions: true)
        #expect(try relay.step() == .idle)
        let path = fixture.directory.file("s-1.cast")
        let cast = (0..<3_000).map { "[\($0).0, \"o\", \"line \($0) ✓\"]\n" }.joined()
        try cast.write(toFile: path, atomically: true, encoding: .utf8)
        let now = fixture.clock.now()
        try fixture.handle.auditLog.append(AuditEvent(type: .sessionStart, time: now, session: .init(id: "s-1"), details: ["session_id": "s-1", "recording": path]))
        try fixture.handle.auditLog.append(AuditEvent(type: .sessionEnd, time: now, session: .init(id: "s-1"), details: ["session_id": "s-1", "recording": path]))
        for _ in 0..<50 where try relay.step() != .idle {}
        let types = sink.types
        #expect(types.first == "session.start", "\(types)")
        #expect(types.last == "session.end", "\(types)")
        #expect(types.filter { $0 == "session.data" }.count >= 3, "\(types)")
        #expect(try fixture.handle.siemOutbox.streams(of: "soc").isEmpty, "the stream is closed after its end")
    }

    @Test("a sink's event filter skips what it does not want, and its cursor still moves")
    func filter() throws {
        let fixture = try Fixture()
        let sink = ScriptedSink(name: "sessions-only") { $0.hasPrefix("session.") }
        #expect(try fixture.relay(sink).step() == .idle)
        try fixture.append(2)
        try fixture.append(1, type: .sessionStart)
        #expect(try fixture.relay(sink).step() == .delivered(count: 1, through: 3))
        #expect(sink.received == [3])
    }
}
