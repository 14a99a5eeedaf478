/// A shell-style name pattern: `*` matches any run of characters (including none), `?` exactly one,
/// everything else itself. No path semantics, no character classes, no escapes: target names are
/// `[A-Za-z0-9_.-]`, so those are never needed.
public struct Glob: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written.
    public let pattern: String
    private let characters: [Character]

    public init(_ pattern: String) {
        self.pattern = pattern
        self.characters = Array(pattern)
    }

    /// Whether the pattern has no wildcard, i.e. names exactly one thing.
    public var isLiteral: Bool { !characters.contains("*") && !characters.contains("?") }

    /// Whether `name` matches the whole pattern.
    ///
    /// Greedy matching that backtracks only to the last `*`: linear in practice and never
    /// exponential, whatever the pattern (a naive recursive matcher is, on `a*a*a*…b`).
    public func matches(_ name: String) -> Bool {
        let text = Array(name)
        var p = 0, t = 0
        var starP: Int? = nil, starT = 0
        while t < text.count {
            if p < characters.count, characters[p] == "?" || characters[p] == text[t] {
                p += 1
                t += 1
            } else if p < characters.count, characters[p] == "*" {
                starP = p
                starT = t
                p += 1
            } else if let star = starP {
                p = star + 1
                starT += 1
                t = starT
            } else {
                return false
            }
        }
        while p < characters.count, characters[p] == "*" { p += 1 }
        return p == characters.count
    }

    public var description: String { pattern }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.pattern == rhs.pattern }
    public func hash(into hasher: inout Hasher) { hasher.combine(pattern) }
}
