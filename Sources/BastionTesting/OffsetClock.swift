public import BastionCore
public import Foundation
import Synchronization

/// Real time plus an offset a test can move forward: a real bastiond and real clients
/// (whose TOTP codes oathtool computes for the same instant) can skip to the next TOTP
/// step, or hours ahead, without sleeping.
public final class OffsetClock: WallClock {
    private let offset = Mutex<TimeInterval>(0)

    public init() {}

    public func now() -> Date { Date().addingTimeInterval(offset.withLock { $0 }) }

    public func advance(by seconds: TimeInterval) {
        offset.withLock { $0 += seconds }
    }
}
