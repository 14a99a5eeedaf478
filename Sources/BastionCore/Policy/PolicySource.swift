import Synchronization

/// Where a service reads the roles and targets from, each time it decides.
///
/// A `Policy` is its own source (tests, one-shot CLI commands); the daemon passes a
/// ``LivePolicy``, which a reload replaces while connections run, so the next certificate,
/// login, elevation or enforcement check decides under the new file.
public protocol PolicySource: Sendable {
    var current: Policy { get }
}

extension Policy: PolicySource {
    public var current: Policy { self }
}

/// The daemon's policy: one value, swapped whole under a lock (readers never see half a
/// reload), with a generation count so a connection can tell that it changed.
public final class LivePolicy: PolicySource {
    private let state: Mutex<(policy: Policy, generation: Int)>

    public init(_ policy: Policy) {
        state = Mutex((policy, 0))
    }

    public var current: Policy { state.withLock { $0.policy } }

    /// Bumped by every ``replace(with:)``.
    public var generation: Int { state.withLock { $0.generation } }

    public func replace(with policy: Policy) {
        state.withLock { $0 = (policy, $0.generation + 1) }
    }
}
