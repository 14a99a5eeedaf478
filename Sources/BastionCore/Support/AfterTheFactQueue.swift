public import Foundation

/// Writes that record what has already happened (a session has ended; nothing can refuse it
/// now): run at once, and if the store does not answer (the database restarting), kept and
/// retried in order, every `retryInterval`, until it does, instead of being lost.
///
/// Fail closed is for actions not yet taken; an ending cannot be undone, so its record waits
/// for the store. The queue lives in memory: if the process dies first, the session's row is
/// still live and its end is written as `interrupted` at restart or by another node.
public final class AfterTheFactQueue: @unchecked Sendable {
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var pending: [(label: String, work: @Sendable () throws -> Void)] = []
    private var retrying = false
    private let retryInterval: TimeInterval
    private let onFailure: @Sendable (String, any Error) -> Void

    /// - Parameter onFailure: told of each failed attempt (to log it), with the work's label.
    public init(retryInterval: TimeInterval = 1, onFailure: @escaping @Sendable (String, any Error) -> Void = { _, _ in }) {
        self.retryInterval = retryInterval
        self.onFailure = onFailure
    }

    /// Runs `work` now, unless earlier work still waits (then after it, to keep the order);
    /// if it throws, keeps it for the retry thread.
    public func run(_ label: String, _ work: @escaping @Sendable () throws -> Void) {
        let runNow = condition.withLock { pending.isEmpty }
        if runNow {
            do {
                try work()
                return
            } catch {
                onFailure(label, error)
            }
        }
        condition.withLock {
            pending.append((label, work))
            if !retrying {
                retrying = true
                Thread { [self] in retryUntilEmpty() }.start()
            }
        }
    }

    /// Work waiting for the store.
    public var backlog: Int { condition.withLock { pending.count } }

    private func retryUntilEmpty() {
        while true {
            guard let next = condition.withLock({ () -> (label: String, work: @Sendable () throws -> Void)? in
                if pending.isEmpty { retrying = false }
                return pending.first
            }) else { return }
            do {
                try next.work()
                condition.withLock { _ = pending.removeFirst() }
            } catch {
                onFailure(next.label, error)
                Thread.sleep(forTimeInterval: retryInterval)
            }
        }
    }
}
