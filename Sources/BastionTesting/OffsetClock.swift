public import BastionCore
public import Foundation
import Synchronization

/// Real time plus an offset a test can move forward: a real bastiond and real clients
/// (whose TOTP codes oathtool computes for the same instant) can skip to the next TOTP
/// step, or hours ahead, without sleeping.
public final class OffsetClock: WallClock {
    private let state = Mutex<(offset: TimeInterval, frozen: Date?)>((0, nil))

    public init() {}

    public func now() -> Date {
        state.withLock { $0.frozen ?? Date().addingTimeInterval($0.offset) }
    }

    public func advance(by seconds: TimeInterval) {
        state.withLock { state in
            state.offset += seconds
            state.frozen = state.frozen?.addingTimeInterval(seconds)
        }
    }

    /// Stops the clock at `date` (time moves only by ``advance(by:)`` from then on), for tests
    /// that must not straddle a TOTP step boundary.
    public func freeze(at date: Date) {
        state.withLock { $0.frozen = date }
    }
}
