public import Foundation

/// Who may start a handshake now, who waits, and who is turned away: the front door's
/// admission decisions for unauthenticated connections, as values.
///
/// Authenticated connections are not counted: a burst of legitimate logins from one address
/// (Ansible with `forks=200`, an office behind one NAT) only waits its turn. Up to
/// `start` handshakes run at once, each on a thread; the rest wait without a thread and are
/// started fairly, the source with the fewest running first. A flood cannot starve others:
/// a newcomer that finds every slot taken pushes out a stalled handshake (no key exchange
/// after `stallAfter`) of the heaviest source, and at `full` the newest waiting connection
/// of the heaviest source. Penalised sources are refused at once.
///
/// The SSH adapter feeds it arrivals and ends, and carries out what it answers. Not
/// thread-safe: one owner holds it behind a lock.
public struct AdmissionControl: Sendable {
    /// What to do with a connection that just arrived.
    public enum Arrival: Sendable, Equatable {
        /// Start its handshake now; first end the running handshake `evicting`, if any.
        case start(evicting: Int?)
        /// Keep it waiting (no thread); first drop the waiting connection `dropping`, if any.
        case wait(dropping: Int?)
        case refuse(Refusal)
    }

    public enum Refusal: String, Sendable, Equatable {
        case penalised
        case perSourceLimit = "per-source limit"
        case full
    }

    private struct Running {
        var source: String
        var startedAt: Date
        var keyExchanged = false
    }

    private struct Waiting {
        var source: String
        var arrivedAt: Date
    }

    private struct Load {
        var running = 0
        var waiting = 0
        var total: Int { running + waiting }
    }

    public let settings: AdmissionSettings
    public private(set) var penalties: PenaltyBox
    private var running: [Int: Running] = [:]
    private var waiting: [Int: Waiting] = [:]
    private var load: [String: Load] = [:]

    public init(settings: AdmissionSettings, penalties: PenaltyBox.Settings) {
        self.settings = settings
        self.penalties = PenaltyBox(settings: penalties)
    }

    public var runningCount: Int { running.count }
    public var waitingCount: Int { waiting.count }

    /// A connection was accepted from `source`.
    public mutating func arrive(_ ticket: Int, source: String, now: Date) -> Arrival {
        if penalties.isPenalised(source, now: now) { return .refuse(.penalised) }
        let mine = load[source] ?? Load()
        guard mine.total < settings.perSource else { return .refuse(.perSourceLimit) }
        if running.count < settings.start {
            startRunning(ticket, source: source, now: now)
            return .start(evicting: nil)
        }
        if let victim = stalledHandshake(heavierThan: mine.running, now: now) {
            forgetRunning(victim)
            startRunning(ticket, source: source, now: now)
            return .start(evicting: victim)
        }
        var dropped: Int?
        if running.count + waiting.count >= settings.full {
            guard let newest = newestWaiting(ofSourceHeavierThan: mine.total) else { return .refuse(.full) }
            forgetWaiting(newest)
            dropped = newest
        }
        waiting[ticket] = Waiting(source: source, arrivedAt: now)
        load[source, default: Load()].waiting += 1
        return .wait(dropping: dropped)
    }

    /// The handshake `ticket` finished key exchange: it is a real client, never pushed out.
    public mutating func keyExchanged(_ ticket: Int) {
        running[ticket]?.keyExchanged = true
    }

    /// `ticket` authenticated: it leaves the unauthenticated connections and frees its slot.
    public mutating func authenticated(_ ticket: Int) {
        forgetRunning(ticket)
    }

    /// A running handshake ended without authenticating; `cause` is what it earns its source
    /// (nil: no fault of its own, e.g. pushed out or the server stopping). Returns a
    /// penalty that became active, to audit.
    public mutating func ended(_ ticket: Int, source: String, cause: PenaltyBox.Cause?, now: Date) -> PenaltyBox.Activation? {
        forgetRunning(ticket)
        guard let cause else { return nil }
        return penalties.record(cause, source: source, now: now)
    }

    /// A waiting connection's client went away.
    public mutating func left(_ ticket: Int) {
        forgetWaiting(ticket)
    }

    /// Waiting connections to start now, as slots are free: the source with the fewest
    /// running handshakes first, then the longest waiting.
    public mutating func next(now: Date) -> [Int] {
        var started: [Int] = []
        while running.count < settings.start, !waiting.isEmpty {
            guard let (ticket, entry) = waiting.min(by: { a, b in
                let (ra, rb) = (load[a.value.source]?.running ?? 0, load[b.value.source]?.running ?? 0)
                if ra != rb { return ra < rb }
                return (a.value.arrivedAt, a.key) < (b.value.arrivedAt, b.key)
            }) else { break }
            forgetWaiting(ticket)
            startRunning(ticket, source: entry.source, now: now)
            started.append(ticket)
        }
        return started
    }

    /// Waiting connections past the login grace time, to drop (no penalty: they never had a
    /// turn); also forgets penalties that ran out.
    public mutating func expire(now: Date) -> [Int] {
        penalties.expire(now: now)
        let late = waiting.filter { now.timeIntervalSince($0.value.arrivedAt) >= settings.graceTime }.map(\.key)
        late.forEach { forgetWaiting($0) }
        return late.sorted()
    }

    // MARK: - Bookkeeping

    /// The oldest handshake still without key exchange after `stallAfter`, from the source
    /// with the most running handshakes, if that source runs more than `running` + 1.
    private func stalledHandshake(heavierThan running: Int, now: Date) -> Int? {
        let stalled = self.running.filter { !$0.value.keyExchanged && now.timeIntervalSince($0.value.startedAt) >= settings.stallAfter }
        guard let heaviest = Set(stalled.values.map(\.source)).max(by: { (load[$0]?.running ?? 0, $0) < (load[$1]?.running ?? 0, $1) }),
            (load[heaviest]?.running ?? 0) > running + 1
        else { return nil }
        return stalled.filter { $0.value.source == heaviest }.min { ($0.value.startedAt, $0.key) < ($1.value.startedAt, $1.key) }?.key
    }

    /// The newest waiting connection of the source holding the most connections, if that
    /// source holds more than `total` + 1.
    private func newestWaiting(ofSourceHeavierThan total: Int) -> Int? {
        guard let heaviest = load.filter({ $0.value.waiting > 0 }).max(by: { ($0.value.total, $0.key) < ($1.value.total, $1.key) }),
            heaviest.value.total > total + 1
        else { return nil }
        return waiting.filter { $0.value.source == heaviest.key }.max { ($0.value.arrivedAt, $0.key) < ($1.value.arrivedAt, $1.key) }?.key
    }

    private mutating func startRunning(_ ticket: Int, source: String, now: Date) {
        running[ticket] = Running(source: source, startedAt: now)
        load[source, default: Load()].running += 1
    }

    private mutating func forgetRunning(_ ticket: Int) {
        guard let entry = running.removeValue(forKey: ticket) else { return }
        adjust(entry.source) { $0.running -= 1 }
    }

    private mutating func forgetWaiting(_ ticket: Int) {
        guard let entry = waiting.removeValue(forKey: ticket) else { return }
        adjust(entry.source) { $0.waiting -= 1 }
    }

    private mutating func adjust(_ source: String, _ change: (inout Load) -> Void) {
        guard var entry = load[source] else { return }
        change(&entry)
        load[source] = entry.total > 0 ? entry : nil
    }
}
