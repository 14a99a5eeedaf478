import BastionCore
import Testing

@Suite("Glob")
struct PolicyGlobTests {
    @Test(arguments: [
        ("web*", "web01"), ("web*", "web"), ("*", ""), ("*", "anything.at-all"), ("web0?", "web01"),
        ("*.prod", "db1.prod"), ("a*b*c", "aXbYc"), ("a*b*c", "abc"), ("db-??", "db-01"), ("exact", "exact"),
        ("*/*", "a/b"),
    ])
    func matches(pattern: String, name: String) {
        #expect(Glob(pattern).matches(name))
    }

    @Test(arguments: [
        ("web*", "db01"), ("web*", "xweb01"), ("web0?", "web0"), ("web0?", "web012"), ("exact", "exactly"),
        ("*.prod", "db1.prodx"), ("a*b*c", "aXbY"), ("", "x"), ("WEB*", "web01"),
    ])
    func doesNotMatch(pattern: String, name: String) {
        #expect(!Glob(pattern).matches(name))
    }

    /// A backtracking matcher takes exponential time here; this one must not.
    @Test func pathologicalPatternIsFast() {
        let pattern = String(repeating: "a*", count: 30) + "b"
        let name = String(repeating: "a", count: 200)
        let clock = ContinuousClock()
        let elapsed = clock.measure { #expect(!Glob(pattern).matches(name)) }
        #expect(elapsed < .seconds(1))
    }

    @Test func literalness() {
        #expect(Glob("web01").isLiteral)
        #expect(!Glob("web*").isLiteral)
        #expect(!Glob("web0?").isLiteral)
        #expect(Glob("web*") == Glob("web*"))
    }
}
