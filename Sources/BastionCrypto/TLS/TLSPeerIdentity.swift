/// Who the peer's verified certificate says it is: the subject's common names and the DNS
/// names of its subjectAltName. Only ever built from a certificate that chained to the
/// configured CA in this connection's own handshake; never from anything the peer sends
/// as data.
public struct TLSPeerIdentity: Sendable, Equatable {
    public var commonNames: [String]
    public var dnsNames: [String]

    public init(commonNames: [String], dnsNames: [String]) {
        self.commonNames = commonNames
        self.dnsNames = dnsNames
    }

    /// Whether the certificate names `name`, as its subject CN or a DNS SAN, exactly
    /// (byte for byte: Bastion's target names are case-sensitive).
    public func names(_ name: String) -> Bool {
        !name.isEmpty && (commonNames.contains(name) || dnsNames.contains(name))
    }

    /// The names for a log line or an audit record.
    public var description: String {
        (commonNames.map { "CN=\($0)" } + dnsNames.map { "DNS:\($0)" }).joined(separator: ", ")
    }
}
