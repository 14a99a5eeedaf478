#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A comma-separated list of IPv4/IPv6 addresses and CIDR blocks, as in the
/// `source-address` critical option (PROTOCOL.certkeys) and `from=` of authorized_keys.
///
/// Parsing follows OpenSSH's `addr_match_cidr_list`: no spaces, prefix lengths within
/// the family, and no host bits set below the prefix ("10.0.0.1/8" is refused as a typo).
public struct CIDRList: Sendable, Hashable, CustomStringConvertible {
    /// One address block: network bytes (4 or 16) and prefix length.
    public struct Block: Sendable, Hashable {
        public let network: [UInt8]
        public let prefixLength: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == network.count else { return false }
            var remaining = prefixLength
            for index in network.indices where remaining > 0 {
                let bits = min(8, remaining)
                let mask: UInt8 = bits == 8 ? 0xFF : ~(0xFF >> UInt8(bits))
                if address[index] & mask != network[index] & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    public let blocks: [Block]
    /// The list as written, for audit records.
    public let text: String

    /// Parses `10.0.0.0/8,192.168.1.5,::1/128`. Throws on an empty list or entry, a bad
    /// address, a bad prefix length or host bits set.
    public init(_ text: String) throws(FormatError) {
        let entries = text.split(separator: ",", omittingEmptySubsequences: false)
        var blocks: [Block] = []
        for entry in entries {
            let parts = entry.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard let address = Self.parseAddress(String(parts[0])) else {
                throw FormatError(.invalidField, "bad address in CIDR list: \(entry)")
            }
            let maximum = address.count * 8
            var prefix = maximum
            if parts.count == 2 {
                let digits = parts[1]
                guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
                      let value = Int(digits), value <= maximum
                else {
                    throw FormatError(.invalidField, "bad prefix length in CIDR list: \(entry)")
                }
                prefix = value
            }
            var masked = address
            for index in masked.indices {
                let keep = max(0, min(8, prefix - index * 8))
                masked[index] &= keep == 8 ? 0xFF : ~(0xFF >> UInt8(keep))
            }
            guard masked == address else {
                throw FormatError(.invalidField, "host bits set in CIDR block \(entry)")
            }
            // An IPv4-mapped block (::ffff:10.0.0.0/104) is the IPv4 block it names, so it
            // matches clients however the listener reports them (see `contains`).
            if Self.isIPv4Mapped(address), prefix >= 96 {
                blocks.append(Block(network: Array(address.suffix(4)), prefixLength: prefix - 96))
            } else {
                blocks.append(Block(network: address, prefixLength: prefix))
            }
        }
        self.blocks = blocks
        self.text = text
    }

    /// Whether `address` (textual IPv4 or IPv6) falls in any block. An IPv4-mapped IPv6
    /// address (`::ffff:10.1.2.3`, what a dual-stack listener reports) is matched as the
    /// IPv4 address it is; an IPv6 zone (`%eth0`) is ignored. Unparsable addresses match
    /// nothing.
    public func contains(address: String) -> Bool {
        var text = Substring(address)
        if let percent = text.firstIndex(of: "%") { text = text[..<percent] }
        guard var bytes = Self.parseAddress(String(text)) else { return false }
        if Self.isIPv4Mapped(bytes) {
            bytes = Array(bytes.suffix(4))
        }
        return blocks.contains { $0.contains(bytes) }
    }

    public var description: String { text }

    /// `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2).
    static func isIPv4Mapped(_ bytes: [UInt8]) -> Bool {
        bytes.count == 16 && bytes.prefix(10).allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF
    }

    /// `inet_pton`, which accepts only the strict textual forms (dotted-quad decimal,
    /// RFC 4291 §2.2 for IPv6).
    static func parseAddress(_ text: String) -> [UInt8]? {
        if text.contains(":") {
            var buffer = [UInt8](repeating: 0, count: 16)
            return inet_pton(AF_INET6, text, &buffer) == 1 ? buffer : nil
        }
        var buffer = [UInt8](repeating: 0, count: 4)
        return inet_pton(AF_INET, text, &buffer) == 1 ? buffer : nil
    }
}
