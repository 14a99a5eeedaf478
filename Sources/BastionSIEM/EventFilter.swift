public import BastionCore

/// Which event types a sink wants: dotted-type globs (`events = ["auth.*", "session.*"]`).
///
/// `*` matches any run of characters, dots included, so `auth.*` takes every `auth.` type and
/// `*` takes everything; `?` matches one character. An event passes when any pattern matches
/// its whole type name. An empty list passes nothing (a sink configured to receive nothing).
public struct EventFilter: Sendable, Hashable {
    public let patterns: [Glob]

    /// Every event type.
    public static let everything = EventFilter(validated: [Glob("*")])

    /// Validates `patterns`: each is non-empty and made only of the characters event types
    /// use (`a-z 0-9 _ .`) plus the wildcards, so a typo such as `"auth.*, session.*"` (one
    /// string) is refused at start instead of silently matching nothing.
    public init(_ patterns: [String]) throws(SIEMError) {
        var globs: [Glob] = []
        for pattern in patterns {
            guard !pattern.isEmpty else {
                throw SIEMError(.invalidConfiguration, "events: empty pattern")
            }
            guard let bad = pattern.unicodeScalars.first(where: { !Self.allowed($0) }) else {
                globs.append(Glob(pattern))
                continue
            }
            throw SIEMError(.invalidConfiguration, "events: invalid character \"\(bad)\" in pattern \"\(pattern)\"")
        }
        self.patterns = globs
    }

    private init(validated: [Glob]) {
        self.patterns = validated
    }

    public func accepts(_ type: AuditEventType) -> Bool {
        accepts(typeName: type.name)
    }

    public func accepts(typeName: String) -> Bool {
        patterns.contains { $0.matches(typeName) }
    }

    private static func allowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "_", ".", "*", "?": true
        default: false
        }
    }
}
