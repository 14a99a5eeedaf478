import BastionCore
import BastionTesting
import Foundation
import Testing

/// Admission of unauthenticated connections and per-source penalties, on a manual clock.
@Suite("Admission control")
struct AdmissionControlTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    static func control(start: Int = 4, full: Int = 10, perSource: Int = 8, penalties: PenaltyBox.Settings = .defaults) -> AdmissionControl {
        AdmissionControl(
            settings: AdmissionSettings(start: start, rate: 30, full: full, perSource: perSource, stallAfter: 1, graceTime: 60), penalties: penalties
        )
    }

    @Test("a burst from one address waits its turn and is all served; authenticated connections free their slot")
    func burstFromOneAddress() {
        var admission = Self.control(start: 4, full: 300, perSource: 256)
        var started: [Int] = []
        for ticket in 0..<200 {
            switch admission.arrive(ticket, source: "10.0.0.1", now: Self.start) {
            case .start(nil): started.append(ticket)
            case .wait(nil): break
            case let other: Issue.record("ticket \(ticket): \(other)")
            }
        }
        #expect(started == [0, 1, 2, 3])
        #expect(admission.waitingCount == 196)
        var served = 0
        var queue = started
        while let ticket = queue.first {
            queue.removeFirst()
            admission.keyExchanged(ticket)
            admission.authenticated(ticket)
            served += 1
            queue += admission.next(now: Self.start)
        }
        #expect(served == 200)
        #expect(admission.runningCount == 0 && admission.waitingCount == 0)
    }

    @Test("a newcomer finding every slot held by a stalled flood pushes out the heaviest source's oldest handshake")
    func stalledFloodIsPushedOut() {
        var admission = Self.control(start: 4, full: 100, perSource: 50)
        for ticket in 0..<3 { #expect(admission.arrive(ticket, source: "flood-a", now: Self.start) == .start(evicting: nil)) }
        #expect(admission.arrive(3, source: "flood-b", now: Self.start) == .start(evicting: nil))
        // Not stalled yet (under a second): the newcomer waits.
        #expect(admission.arrive(4, source: "user", now: Self.start.addingTimeInterval(0.5)) == .wait(dropping: nil))
        admission.left(4)
        let later = Self.start.addingTimeInterval(2)
        #expect(admission.arrive(5, source: "user", now: later) == .start(evicting: 0))
        // A real client that finished key exchange is never pushed out.
        admission.keyExchanged(1)
        admission.keyExchanged(2)
        #expect(admission.arrive(6, source: "user2", now: later) == .wait(dropping: nil))
        // A source no heavier than the newcomer's is not pushed out either.
        #expect(admission.arrive(7, source: "flood-b", now: later) == .wait(dropping: nil))
    }

    @Test("at full, the heaviest source's newest waiting connection makes room; an equal source is refused")
    func fullQueue() {
        var admission = Self.control(start: 1, full: 5, perSource: 10)
        #expect(admission.arrive(0, source: "a", now: Self.start) == .start(evicting: nil))
        admission.keyExchanged(0)
        for ticket in 1...4 { #expect(admission.arrive(ticket, source: "a", now: Self.start) == .wait(dropping: nil)) }
        #expect(admission.arrive(5, source: "b", now: Self.start) == .wait(dropping: 4))
        // A source cannot push out its own: a (4) is refused at full.
        #expect(admission.arrive(6, source: "a", now: Self.start) == .refuse(.full))
        #expect(admission.waitingCount == 4)
        // Sources with 4 (a) and 1 (b): c (0) takes a's newest; then b (1) takes the next of
        // a (3); then a and b hold 2 each, c 1: nobody is heavier by two, c is refused.
        #expect(admission.arrive(7, source: "c", now: Self.start) == .wait(dropping: 3))
        #expect(admission.arrive(8, source: "b", now: Self.start) == .wait(dropping: 2))
        #expect(admission.arrive(9, source: "c", now: Self.start) == .refuse(.full))
    }

    @Test("the waiting start fairly: the source with the fewest running first")
    func fairOrder() {
        var admission = Self.control(start: 2, full: 100, perSource: 50)
        _ = admission.arrive(0, source: "a", now: Self.start)
        _ = admission.arrive(1, source: "a", now: Self.start)
        for ticket in 2..<6 { _ = admission.arrive(ticket, source: "a", now: Self.start) }
        _ = admission.arrive(6, source: "b", now: Self.start.addingTimeInterval(0.1))
        admission.authenticated(0)
        #expect(admission.next(now: Self.start) == [6])
        admission.authenticated(1)
        #expect(admission.next(now: Self.start) == [2])
    }

    @Test("per-source limit counts running and waiting connections")
    func perSourceLimit() {
        var admission = Self.control(start: 1, full: 100, perSource: 3)
        for ticket in 0..<3 { _ = admission.arrive(ticket, source: "a", now: Self.start) }
        #expect(admission.arrive(3, source: "a", now: Self.start) == .refuse(.perSourceLimit))
        #expect(admission.arrive(4, source: "b", now: Self.start) == .wait(dropping: nil))
        admission.authenticated(0)
        #expect(admission.arrive(5, source: "a", now: Self.start) == .start(evicting: nil))
    }

    @Test("waiting connections are dropped at the grace time, without penalty")
    func waitingExpire() {
        var admission = Self.control(start: 1)
        _ = admission.arrive(0, source: "a", now: Self.start)
        _ = admission.arrive(1, source: "b", now: Self.start)
        _ = admission.arrive(2, source: "c", now: Self.start.addingTimeInterval(30))
        #expect(admission.expire(now: Self.start.addingTimeInterval(60)) == [1])
        #expect(admission.waitingCount == 1)
        #expect(!admission.penalties.isPenalised("b", now: Self.start.addingTimeInterval(60)))
    }

    @Test("penalties add up; a source is refused once past min, for at most max, and audited once")
    func penalties() {
        var admission = Self.control(start: 10)
        let clock = ManualClock(Self.start)
        var activations: [PenaltyBox.Activation] = []
        for ticket in 0..<3 {
            _ = admission.arrive(ticket, source: "guesser", now: clock.now())
            if let activation = admission.ended(ticket, source: "guesser", cause: .authFail, now: clock.now()) { activations.append(activation) }
        }
        // 3 × 5 s = 15 s: at min, now refused.
        #expect(activations == [PenaltyBox.Activation(source: "guesser", cause: .authFail, until: Self.start.addingTimeInterval(15))])
        #expect(admission.arrive(10, source: "guesser", now: clock.now()) == .refuse(.penalised))
        #expect(admission.arrive(11, source: "other", now: clock.now()) == .start(evicting: nil))
        // More failures while active extend it, without a second activation.
        _ = admission.arrive(12, source: "guesser2", now: clock.now())
        for _ in 0..<200 { #expect(admission.ended(12, source: "guesser", cause: .graceExceeded, now: clock.now()) == nil) }
        clock.advance(by: 599)
        #expect(admission.penalties.isPenalised("guesser", now: clock.now()))
        clock.advance(by: 2)
        #expect(!admission.penalties.isPenalised("guesser", now: clock.now()))
        #expect(admission.arrive(13, source: "guesser", now: clock.now()) == .start(evicting: nil))
    }

    @Test("one mistyped code costs nothing; an evicted or exempt source is not penalised")
    func noPenalty() throws {
        let exempt = try CIDRList("127.0.0.0/8")
        var admission = Self.control(penalties: PenaltyBox.Settings(exempt: exempt))
        #expect(admission.ended(0, source: "10.0.0.1", cause: .authFail, now: Self.start) == nil)
        #expect(!admission.penalties.isPenalised("10.0.0.1", now: Self.start))
        for _ in 0..<10 { _ = admission.ended(0, source: "10.0.0.2", cause: nil, now: Self.start) }
        for _ in 0..<10 { _ = admission.ended(0, source: "127.0.0.9", cause: .malformed, now: Self.start) }
        #expect(admission.penalties.penalisedCount(now: Self.start) == 0)
        _ = admission.ended(0, source: "10.0.0.3", cause: .malformed, now: Self.start)
        #expect(admission.penalties.penalisedCount(now: Self.start) == 1)
    }

    @Test("ssh.max_startups and ssh.penalties parse sshd's syntax")
    func parsing() throws {
        #expect(try AdmissionSettings.parseMaxStartups("10:30:100").get() == (10, 30, 100))
        #expect(try AdmissionSettings.parseMaxStartups("64").get() == (64, 100, 64))
        #expect(throws: AdmissionSettings.MaxStartupsError.self) { try AdmissionSettings.parseMaxStartups("10:30").get() }
        #expect(throws: AdmissionSettings.MaxStartupsError.self) { try AdmissionSettings.parseMaxStartups("100:30:10").get() }
        let settings = try PenaltyBox.Settings.parse("authfail:1m min:30s max:1h", exempt: nil).get()
        #expect(settings.durations[.authFail] == 60 && settings.durations[.noAuth] == 1)
        #expect(settings.minimum == 30 && settings.maximum == 3600)
        #expect(throws: PenaltyBox.Settings.ParseError.self) { try PenaltyBox.Settings.parse("crash:90s", exempt: nil).get() }
        #expect(throws: PenaltyBox.Settings.ParseError.self) { try PenaltyBox.Settings.parse("authfail", exempt: nil).get() }
    }
}
