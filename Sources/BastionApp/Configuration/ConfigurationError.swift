/// A configuration file that cannot be used, pointing at the line and key to fix.
///
/// Printed as `FILE:LINE: KEY: REASON` (or `FILE: KEY: REASON` when no line applies), the shape
/// compilers use, so editors and CI logs link straight to the line.
public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file as named by the caller.
    public var file: String
    /// 1-based line of the key (or of its table when the key is missing), if known.
    public var line: Int?
    /// The key's full dotted path (`auth.max_failures`, `roles.engineer.logins`), or a
    /// parenthesised word for whole-file problems: `(file)` when it cannot be read, `(syntax)`
    /// when it is not TOML.
    public var key: String
    public var reason: String

    public init(file: String, line: Int?, key: String, reason: String) {
        self.file = file
        self.line = line
        self.key = key
        self.reason = reason
    }

    public var description: String {
        if let line { "\(file):\(line): \(key): \(reason)" } else { "\(file): \(key): \(reason)" }
    }
}
