/// The PROXY protocol v2 header (HAProxy's `send-proxy-v2`): the client's real address,
/// sent by a load balancer before the client's own bytes.
///
/// Bastion reads it only from `trusted_proxies`, and there requires it; from anyone else a
/// header is refused (sshpiper's CVE-2024-35175 took it from anyone, so any client could claim
/// any address). Version 1's text form is recognised only to be refused.
public struct ProxyHeader: Sendable, Equatable {
    /// The connection's origin: the client behind the proxy, or nil for a LOCAL header
    /// (the proxy's own health check).
    public var source: (address: String, port: Int)?

    public static func == (lhs: ProxyHeader, rhs: ProxyHeader) -> Bool {
        lhs.source?.address == rhs.source?.address && lhs.source?.port == rhs.source?.port
    }

    public init(source: (address: String, port: Int)?) {
        self.source = source
    }

    /// The twelve bytes every v2 header starts with.
    public static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    /// A header carries at most this much (address block and TLVs); more is refused.
    public static let maximumLength = 16 + 536

    public enum Parse: Sendable, Equatable {
        /// A whole header of `length` bytes.
        case header(ProxyHeader, length: Int)
        /// So far a valid prefix: `needed` bytes in all are required.
        case incomplete(needed: Int)
        case invalid(String)
    }

    /// Whether `bytes` start like a PROXY header of either version (to refuse it from an
    /// untrusted source).
    public static func looksLikeHeader(_ bytes: [UInt8]) -> Bool {
        guard !bytes.isEmpty else { return false }
        let version1 = Array("PROXY ".utf8)
        return [signature, version1].contains { marker in bytes.prefix(marker.count).elementsEqual(marker.prefix(min(bytes.count, marker.count))) }
    }

    /// Parses the start of a connection's bytes.
    public static func parse(_ bytes: [UInt8]) -> Parse {
        let prefix = min(bytes.count, signature.count)
        guard Array(bytes.prefix(prefix)) == Array(signature.prefix(prefix)) else {
            return .invalid(bytes.starts(with: Array("PROXY ".utf8)) ? "PROXY protocol v1 is not accepted; use send-proxy-v2" : "no PROXY v2 signature")
        }
        guard bytes.count >= 16 else { return .incomplete(needed: 16) }
        let versionCommand = bytes[12]
        guard versionCommand >> 4 == 2 else { return .invalid("PROXY version \(versionCommand >> 4)") }
        let length = 16 + Int(bytes[14]) << 8 + Int(bytes[15])
        guard length <= maximumLength else { return .invalid("PROXY header of \(length) bytes") }
        guard bytes.count >= length else { return .incomplete(needed: length) }
        let body = Array(bytes[16..<length])
        switch versionCommand & 0x0F {
        case 0x0:
            return .header(ProxyHeader(source: nil), length: length)
        case 0x1:
            break
        default:
            return .invalid("PROXY command \(versionCommand & 0x0F)")
        }
        switch bytes[13] {
        case 0x11:  // TCP over IPv4
            guard body.count >= 12 else { return .invalid("PROXY IPv4 address block of \(body.count) bytes") }
            let address = body[0..<4].map(String.init).joined(separator: ".")
            return .header(ProxyHeader(source: (address, Int(body[8]) << 8 + Int(body[9]))), length: length)
        case 0x21:  // TCP over IPv6
            guard body.count >= 36 else { return .invalid("PROXY IPv6 address block of \(body.count) bytes") }
            return .header(ProxyHeader(source: (ipv6Text(Array(body[0..<16])), Int(body[32]) << 8 + Int(body[33]))), length: length)
        default:
            return .invalid("PROXY address family \(bytes[13]) (only TCP over IPv4 or IPv6)")
        }
    }

    /// RFC 5952 text: lower-case hex groups, the longest run of two or more zero groups as `::`.
    static func ipv6Text(_ bytes: [UInt8]) -> String {
        let groups = stride(from: 0, to: 16, by: 2).map { Int(bytes[$0]) << 8 | Int(bytes[$0 + 1]) }
        if groups[0..<5].allSatisfy({ $0 == 0 }), groups[5] == 0xFFFF {
            return "::ffff:" + bytes[12..<16].map(String.init).joined(separator: ".")
        }
        var best = (start: -1, length: 0)
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8, groups[end] == 0 { end += 1 }
            if end - index > best.length { best = (index, end - index) }
            index = end
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.length >= 2 else { return hex.joined(separator: ":") }
        let head = hex[0..<best.start].joined(separator: ":")
        let tail = hex[(best.start + best.length)...].joined(separator: ":")
        return head + "::" + tail
    }
}
