import BastionCore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The one owner of the front door's ``AdmissionControl``: the accept loop asks it about
/// arrivals; connection threads tell it when a handshake exchanged keys, authenticated or
/// ended, and it wakes the accept loop so that waiting connections get the freed slots.
final class AdmissionGate: Sendable {
    /// What `/metrics` shows.
    struct Stats: Sendable, Equatable {
        var running = 0
        var waiting = 0
        var penalised = 0
        var dropped: [String: Int] = [:]
    }

    private struct State {
        var control: AdmissionControl
        var dropped: [String: Int] = [:]
    }

    private let state: Mutex<State>
    /// A self-pipe: one byte wakes the accept loop's poll.
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let onPenalty: @Sendable (PenaltyBox.Activation) -> Void

    init(settings: AdmissionSettings, penalties: PenaltyBox.Settings, onPenalty: @escaping @Sendable (PenaltyBox.Activation) -> Void) {
        state = Mutex(State(control: AdmissionControl(settings: settings, penalties: penalties)))
        var fds: [Int32] = [-1, -1]
        _ = pipe(&fds)
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        self.onPenalty = onPenalty
    }

    deinit {
        close(wakeRead)
        close(wakeWrite)
    }

    var wakeDescriptor: Int32 { wakeRead }

    func arrive(_ ticket: Int, source: String, now: Date) -> AdmissionControl.Arrival {
        state.withLock { state in
            let arrival = state.control.arrive(ticket, source: source, now: now)
            switch arrival {
            case .refuse(let refusal): state.dropped[refusal.rawValue, default: 0] += 1
            case .start(evicting: .some): state.dropped["pushed out", default: 0] += 1
            case .wait(dropping: .some): state.dropped["pushed out", default: 0] += 1
            case .start, .wait: break
            }
            return arrival
        }
    }

    func keyExchanged(_ ticket: Int) {
        state.withLock { $0.control.keyExchanged(ticket) }
    }

    func authenticated(_ ticket: Int) {
        state.withLock { $0.control.authenticated(ticket) }
        wake()
    }

    /// A handshake ended unauthenticated; `cause` may penalise its source (audited once per period).
    func ended(_ ticket: Int, source: String, cause: PenaltyBox.Cause?, now: Date) {
        let activation = state.withLock { $0.control.ended(ticket, source: source, cause: cause, now: now) }
        wake()
        if let activation { onPenalty(activation) }
    }

    func left(_ ticket: Int) {
        state.withLock { $0.control.left(ticket) }
    }

    func next(now: Date) -> [Int] {
        state.withLock { $0.control.next(now: now) }
    }

    /// Waiting connections past the grace time, to drop.
    func expire(now: Date) -> [Int] {
        state.withLock { state in
            let late = state.control.expire(now: now)
            if !late.isEmpty { state.dropped["grace time", default: 0] += late.count }
            return late
        }
    }

    func stats(now: Date) -> Stats {
        state.withLock { state in
            Stats(
                running: state.control.runningCount, waiting: state.control.waitingCount,
                penalised: state.control.penalties.penalisedCount(now: now), dropped: state.dropped
            )
        }
    }

    func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    /// Empties the self-pipe after a wake-up.
    func drainWakeups() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while buffer.withUnsafeMutableBytes({ read(wakeRead, $0.baseAddress, $0.count) }) > 0 {}
    }
}
