public import Foundation

/// How long evidence is kept: whole calendar years (UTC) plus any remainder.
///
/// Written like other durations (`7y`, `10y`, `2600d`); `y` counts as a calendar year when
/// computing a cutoff, so seven years means the seventh anniversary, leap days included,
/// never 2,555 days that end a day or two early.
public struct RetentionPeriod: Sendable, Hashable, CustomStringConvertible {
    public let years: Int
    /// Seconds beyond the whole years.
    public let remainder: TimeInterval
    public let text: String

    /// The policy floor: audit records and recordings are kept at least seven years.
    public static let floor = RetentionPeriod(years: 7, remainder: 0, text: "7y")

    private static let year: TimeInterval = 365 * 86_400

    /// Parses `7y`, `10y`, `7y6m`… (``DurationText`` syntax).
    public init(parsing text: String) throws(DurationTextError) {
        let seconds = try DurationText.parse(text)
        self.years = Int(seconds / Self.year)
        self.remainder = seconds - TimeInterval(years) * Self.year
        self.text = text
    }

    init(years: Int, remainder: TimeInterval, text: String) {
        self.years = years
        self.remainder = remainder
        self.text = text
    }

    /// True when this period is shorter than the seven-year floor.
    public var isBelowFloor: Bool { years < Self.floor.years }

    /// Anything dated strictly before the cutoff is past retention at `now`.
    public func cutoff(at now: Date) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let anniversary = calendar.date(byAdding: .year, value: -years, to: now) ?? now
        return anniversary.addingTimeInterval(-remainder)
    }

    public var description: String { text }
}
