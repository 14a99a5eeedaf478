#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// Durations as people write them in the configuration: `30s`, `15m`, `4h`, `7d`, `2w`, `7y`, or
/// several of those run together from the largest unit down (`1h30m`).
///
/// Whole units only, no spaces, no sign and no fractions: a config value is reviewed in git, so
/// it should read one way only. `y` is 365 days (retention periods are stated in years, and
/// legal text counts days, not calendar years).
public enum DurationText {
    /// The units in the order they must appear, with their length in seconds.
    static let units: [(symbol: Character, seconds: Int)] = [
        ("y", 365 * 86_400), ("w", 7 * 86_400), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1),
    ]

    /// Parses `text` into seconds.
    ///
    /// Each unit may appear once, largest first, so `30m1h` and `1m1m` are refused rather than
    /// guessed at; a bare number is refused because `lockout = 15` could mean seconds or minutes.
    public static func parse(_ text: String) throws(DurationTextError) -> TimeInterval {
        guard !text.isEmpty else { throw DurationTextError(.empty, text) }
        guard !text.hasPrefix("-") else { throw DurationTextError(.negative, text) }

        var total = 0
        var nextUnit = 0  // index into `units` of the smallest unit still allowed to follow
        var index = text.startIndex
        while index < text.endIndex {
            let digitsStart = index
            while index < text.endIndex, text[index].isASCII, text[index].isNumber { index = text.index(after: index) }
            guard index > digitsStart else { throw DurationTextError(.malformed, text) }
            guard index < text.endIndex else { throw DurationTextError(.missingUnit, text) }
            guard let count = Int(text[digitsStart..<index]) else { throw DurationTextError(.overflow, text) }

            let unitStart = index
            while index < text.endIndex, !(text[index].isASCII && text[index].isNumber) { index = text.index(after: index) }
            let symbol = text[unitStart..<index]
            guard symbol.count == 1, let position = units.firstIndex(where: { $0.symbol == symbol.first }) else {
                throw DurationTextError(.unknownUnit, text)
            }
            guard position >= nextUnit else { throw DurationTextError(.outOfOrder, text) }
            nextUnit = position + 1

            let (part, overflowPart) = count.multipliedReportingOverflow(by: units[position].seconds)
            let (sum, overflowSum) = total.addingReportingOverflow(part)
            guard !overflowPart, !overflowSum else { throw DurationTextError(.overflow, text) }
            total = sum
        }
        return TimeInterval(total)
    }

    /// Formats whole seconds the way `parse` reads them, largest unit first: `4h`, `1h30m`, `45s`.
    ///
    /// Fractions of a second are rounded; negative, zero and non-finite values give `0s`, so the
    /// result always parses back.
    public static func format(_ seconds: TimeInterval) -> String {
        guard seconds.isFinite, seconds >= 0.5 else { return "0s" }
        var remaining = seconds >= TimeInterval(Int.max) ? Int.max : Int(seconds.rounded())
        var text = ""
        for unit in units where remaining >= unit.seconds {
            text += "\(remaining / unit.seconds)\(unit.symbol)"
            remaining %= unit.seconds
        }
        return text
    }
}
