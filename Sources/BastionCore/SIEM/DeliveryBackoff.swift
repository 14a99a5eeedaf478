public import Foundation

/// Exponential backoff with jitter for retrying a SIEM that is down.
///
/// "Equal jitter": half of the exponential delay is fixed, half random, so a fleet of
/// bastions does not retry in lockstep after an outage, yet none retries at once.
public struct DeliveryBackoff: Sendable {
    public var base: TimeInterval
    public var cap: TimeInterval

    public init(base: TimeInterval = 0.5, cap: TimeInterval = 60) {
        self.base = base
        self.cap = cap
    }

    /// The wait before retry number `attempt` (1 for the first retry); `unit` is a random
    /// number in 0..<1 (injected, so tests are deterministic).
    public func delay(attempt: Int, unit: Double) -> TimeInterval {
        let exponent = min(max(attempt - 1, 0), 30)
        let ceiling = min(cap, base * pow(2, Double(exponent)))
        return ceiling / 2 + ceiling / 2 * min(max(unit, 0), 1)
    }
}
