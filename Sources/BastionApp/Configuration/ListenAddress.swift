/// A host and port, written `127.0.0.1:2222`, `[::1]:2222`, `0.0.0.0:22` or `name:port`.
///
/// Port 0 means "pick a free port", which tests use to run side by side; target addresses,
/// which name a real remote port, refuse it.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible, LosslessStringConvertible {
    /// An IPv4 address, an IPv6 address without brackets, or a host name.
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT`; `nil` when `text` is not one (port 0 allowed).
    public init?(_ text: String) {
        guard case .success(let address) = Self.parse(text, allowingPortZero: true) else { return nil }
        self = address
    }

    /// `HOST:PORT`, with brackets around an IPv6 host, so that it parses back.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Why an address was refused; the reason goes into a `ConfigurationError`.
    struct Problem: Error {
        var reason: String
    }

    /// Parses `HOST:PORT`, saying why when it cannot.
    static func parse(_ text: String, allowingPortZero: Bool) -> Result<ListenAddress, Problem> {
        let example = "expected HOST:PORT, like 127.0.0.1:2222 or [::1]:2222"
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return .failure(Problem(reason: example)) }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return .failure(Problem(reason: example)) }
            portText = rest.dropFirst()
            guard isIPv6(host) else { return .failure(Problem(reason: "\"\(host)\" is not an IPv6 address")) }
        } else {
            guard let colon = text.lastIndex(of: ":") else { return .failure(Problem(reason: example)) }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") {
                return .failure(Problem(reason: "an IPv6 address needs brackets, like [::1]:2222"))
            }
            guard !host.isEmpty else { return .failure(Problem(reason: "missing host; " + example)) }
            guard isIPv4(host) || (!looksNumeric(host) && isHostName(host)) else {
                return .failure(Problem(reason: "\"\(host)\" is not an IP address or host name"))
            }
        }
        let lowest = allowingPortZero ? 0 : 1
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
            let port = Int(portText), port >= lowest, port <= 65_535
        else {
            return .failure(Problem(reason: "port must be a number from \(lowest) to 65535"))
        }
        return .success(ListenAddress(host: String(host), port: port))
    }

    private static func looksNumeric(_ text: Substring) -> Bool {
        text.allSatisfy { $0 == "." || ($0.isASCII && $0.isNumber) }
    }

    private static func isIPv4(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy { $0.isASCII && $0.isNumber } && Int(part)! <= 255
        }
    }

    /// RFC 4291 §2.2 text forms, without zone identifiers (a listen or target address has no use
    /// for a link-local scope).
    private static func isIPv6(_ text: Substring) -> Bool {
        func isGroup(_ group: Substring) -> Bool { (1...4).contains(group.count) && group.allSatisfy(\.isHexDigit) }
        func groups(_ part: Substring) -> [Substring] { part.isEmpty ? [] : part.split(separator: ":", omittingEmptySubsequences: false) }

        let halves = text.split(separator: "::", maxSplits: 1, omittingEmptySubsequences: false)
        guard halves.count <= 2, !(halves.count == 2 && halves[1].contains("::")) else { return false }
        var all = halves.flatMap(groups)
        var count = all.count
        if let last = all.last, last.contains(".") {
            guard isIPv4(last) else { return false }
            all.removeLast()
            count += 1  // an embedded IPv4 address fills two groups
        }
        guard all.allSatisfy(isGroup) else { return false }
        return halves.count == 2 ? count <= 7 : count == 8
    }

    /// RFC 1123 host names: dot-separated labels of letters, digits and hyphens.
    private static func isHostName(_ text: Substring) -> Bool {
        guard text.utf8.count <= 253 else { return false }
        return text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { label in
            (1...63).contains(label.count) && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }
}
