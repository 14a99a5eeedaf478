public import Foundation

/// Decides when a sink's backlog deserves an alert: once when it crosses `siem.alert_depth`
/// or `siem.alert_age`, once when it is back under both, never on every check in between.
public struct BacklogAlarm: Sendable {
    public enum Transition: Sendable, Equatable {
        case raised(reason: String)
        case cleared
    }

    public var maximumDepth: Int64
    public var maximumAge: TimeInterval
    public private(set) var isRaised = false

    public init(maximumDepth: Int64, maximumAge: TimeInterval) {
        self.maximumDepth = maximumDepth
        self.maximumAge = maximumAge
    }

    /// Feeds one observation; returns a transition when the alarm changes state.
    public mutating func observe(depth: Int64, oldestPending: Date?, now: Date) -> Transition? {
        let age = oldestPending.map { now.timeIntervalSince($0) } ?? 0
        var reasons: [String] = []
        if depth > maximumDepth { reasons.append("\(depth) records undelivered (limit \(maximumDepth))") }
        if age > maximumAge { reasons.append("oldest undelivered record is \(DurationText.format(age.rounded(.down))) old (limit \(DurationText.format(maximumAge)))") }
        switch (isRaised, reasons.isEmpty) {
        case (false, false):
            isRaised = true
            return .raised(reason: reasons.joined(separator: "; "))
        case (true, true):
            isRaised = false
            return .cleared
        default:
            return nil
        }
    }
}
