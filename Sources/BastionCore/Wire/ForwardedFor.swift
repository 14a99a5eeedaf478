import Foundation

/// Who sent an HTTP request: the connection's peer, or, when that peer is a trusted proxy
/// (`http.trusted_proxies`), the client its `Forwarded` (RFC 7239) or `X-Forwarded-For`
/// header names.
///
/// Headers are believed only from trusted proxies: from anyone else they are a client
/// choosing its own address, and are ignored. The chain is read from the right (the hop the
/// trusted peer itself added) past further trusted proxies; the first address that is not
/// one is the client. A chain that does not parse is not believed at all: the peer stands.
/// `Forwarded` wins when both headers are present (it is the standard; HAProxy writes it with
/// `option forwarded`, `X-Forwarded-For` with `option forwardfor`).
public struct ForwardedFor: Sendable {
    /// Where a request came from, as Bastion believes it.
    public struct Origin: Sendable, Equatable {
        public var address: String
        /// 0 when the header named no port.
        public var port: Int
        /// The trusted proxy the request came through, when the address is from a header.
        public var proxy: String?

        public init(address: String, port: Int, proxy: String? = nil) {
            self.address = address
            self.port = port
            self.proxy = proxy
        }
    }

    public var trustedProxies: CIDRList?

    public init(trustedProxies: CIDRList?) {
        self.trustedProxies = trustedProxies
    }

    /// - Parameters:
    ///   - forwarded: the values of every `Forwarded` field, in the order received.
    ///   - xForwardedFor: likewise for `X-Forwarded-For`.
    public func origin(peerAddress: String, peerPort: Int, forwarded: [String], xForwardedFor: [String]) -> Origin {
        let peer = Origin(address: peerAddress, port: peerPort)
        guard let trustedProxies, trustedProxies.contains(address: peerAddress) else { return peer }
        let chain = forwarded.isEmpty ? Self.parseXForwardedFor(xForwardedFor) : Self.parseForwarded(forwarded)
        guard let chain, !chain.isEmpty else { return peer }
        let client = chain.last { !trustedProxies.contains(address: $0.address) } ?? chain[0]
        return Origin(address: client.address, port: client.port, proxy: peerAddress)
    }

    typealias Hop = (address: String, port: Int)

    /// `X-Forwarded-For: client, proxy1, proxy2`; nil when any entry is not an address.
    static func parseXForwardedFor(_ values: [String]) -> [Hop]? {
        var hops: [Hop] = []
        for value in values {
            for entry in value.split(separator: ",", omittingEmptySubsequences: false) {
                guard let hop = parseNode(entry.trimmingCharacters(in: .whitespaces)) else { return nil }
                hops.append(hop)
            }
        }
        return hops
    }

    /// `Forwarded: for=192.0.2.60;proto=https, for="[2001:db8::17]:4711"`; nil when an element
    /// has no `for`, or one that is not an address (`unknown`, an obfuscated `_name`).
    static func parseForwarded(_ values: [String]) -> [Hop]? {
        var hops: [Hop] = []
        for value in values {
            for element in splitOutsideQuotes(value, on: ",") {
                var node: String?
                for pair in splitOutsideQuotes(element, on: ";") {
                    let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    guard parts.count == 2 else { return nil }
                    if parts[0].lowercased() == "for" {
                        guard node == nil else { return nil }
                        node = unquote(parts[1])
                    }
                }
                guard let node, let hop = parseNode(node) else { return nil }
                hops.append(hop)
            }
        }
        return hops
    }

    /// `192.0.2.1`, `192.0.2.1:80`, `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:80`.
    static func parseNode(_ text: String) -> Hop? {
        guard text.utf8.count <= 64, !text.isEmpty else { return nil }
        var host = text
        var port = 0
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let number = Int(rest.dropFirst()), (1...65_535).contains(number) else { return nil }
                port = number
            }
        } else if text.filter({ $0 == ":" }).count == 1 {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard let number = Int(parts[1]), (1...65_535).contains(number) else { return nil }
            host = String(parts[0])
            port = number
        }
        guard CIDRList.parseAddress(host) != nil else { return nil }
        return (host, port)
    }

    private static func unquote(_ text: String) -> String {
        guard text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") else { return text }
        return String(text.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
    }

    private static func splitOutsideQuotes(_ text: String, on separator: Character) -> [String] {
        var parts: [String] = []
        var current = ""
        var quoted = false
        for character in text {
            if character == "\"" { quoted.toggle() }
            if character == separator, !quoted {
                parts.append(current.trimmingCharacters(in: .whitespaces))
                current = ""
            } else {
                current.append(character)
            }
        }
        parts.append(current.trimmingCharacters(in: .whitespaces))
        return parts
    }
}
