import BastionCore
import Testing

@Suite("DurationText")
struct PolicyDurationTextTests {
    @Test(arguments: [
        ("30s", 30.0), ("15m", 900), ("4h", 14_400), ("7d", 604_800), ("2w", 1_209_600), ("7y", 220_752_000),
        ("1h30m", 5_400), ("1d2h3m4s", 93_784), ("0s", 0), ("90s", 90),
    ])
    func parsesUnitsAndCombinations(text: String, seconds: Double) throws {
        #expect(try DurationText.parse(text) == seconds)
    }

    @Test(arguments: [
        ("", DurationTextError.Code.empty),
        ("-5m", .negative),
        ("15", .missingUnit),
        ("1h30", .missingUnit),
        ("5x", .unknownUnit),
        ("15 minutes", .unknownUnit),
        ("15min", .unknownUnit),
        ("30m1h", .outOfOrder),
        ("1m1m", .outOfOrder),
        ("h", .malformed),
        ("1.5h", .unknownUnit),
        ("99999999999999999999s", .overflow),
        ("9000000000000000000y", .overflow),
    ])
    func refusesMalformedText(text: String, code: DurationTextError.Code) {
        #expect(throws: DurationTextError(code, text)) { try DurationText.parse(text) }
    }

    @Test func errorDescriptionQuotesTheText() {
        #expect(DurationTextError(.unknownUnit, "5x").description == "invalid duration \"5x\": unknown unit (use s, m, h, d, w or y)")
    }

    @Test(arguments: [
        (14_400.0, "4h"), (5_400, "1h30m"), (45, "45s"), (0, "0s"), (86_400, "1d"), (691_200, "1w1d"),
        (31_536_000, "1y"), (59.6, "1m"), (-3, "0s"), (.infinity, "0s"),
    ])
    func formats(seconds: Double, text: String) {
        #expect(DurationText.format(seconds) == text)
    }

    @Test(arguments: [1.0, 59, 61, 3_599, 3_601, 86_399, 90_061, 40_000_000])
    func formatParsesBack(seconds: Double) throws {
        #expect(try DurationText.parse(DurationText.format(seconds)) == seconds)
    }
}
