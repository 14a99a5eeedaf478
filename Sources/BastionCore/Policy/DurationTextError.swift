/// Why a duration was refused by `DurationText.parse`.
///
/// Equality is on the code alone (STYLE rule 8), so tests and callers match on what went wrong,
/// not on the wording.
public struct DurationTextError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String
        private init(_ description: String) { self.description = description }

        public static let empty = Code("empty")
        public static let negative = Code("negative durations are not allowed")
        /// A number with no unit after it (`30`, `1h30`).
        public static let missingUnit = Code("missing unit (use s, m, h, d, w or y)")
        public static let unknownUnit = Code("unknown unit (use s, m, h, d, w or y)")
        /// Units repeated or not largest first (`30m1h`).
        public static let outOfOrder = Code("units must appear once each, largest first")
        /// Anything else that is not `<digits><unit>…` (spaces, fractions, a unit with no number).
        public static let malformed = Code("expected digits followed by a unit, like 90s, 15m or 1h30m")
        public static let overflow = Code("too large")
    }

    public var code: Code
    /// The text that was refused, as written.
    public var text: String

    public init(_ code: Code, _ text: String) {
        self.code = code
        self.text = text
    }

    public var description: String { "invalid duration \"\(text)\": \(code)" }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
