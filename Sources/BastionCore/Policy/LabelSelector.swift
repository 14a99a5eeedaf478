/// A role's target pattern that selects by label: `label:env=prod` (the value may be a glob,
/// `label:env=prod*`), so that policy can follow how hosts are grouped rather than named.
public struct LabelSelector: Sendable, Hashable {
    public var key: String
    public var value: String

    /// Parses `label:KEY=VALUE`; nil for any other pattern (a name or name glob).
    public init?(_ pattern: String) {
        guard pattern.hasPrefix("label:") else { return nil }
        let body = pattern.dropFirst("label:".count)
        guard let equals = body.firstIndex(of: "=") else { return nil }
        key = String(body[..<equals])
        value = String(body[body.index(after: equals)...])
    }

    public func matches(_ labels: [String: String]) -> Bool {
        guard let actual = labels[key] else { return false }
        return Glob(value).matches(actual)
    }
}
