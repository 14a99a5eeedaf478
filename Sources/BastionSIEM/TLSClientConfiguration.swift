/// TLS for a syslog sink (RFC 5425): the receiver's certificate is verified against
/// `caFile` and its name against the address (or ``serverName``); a client certificate is
/// presented when the receiver asks for mutual authentication.
public struct TLSClientConfiguration: Sendable, Hashable {
    /// PEM file of the CA certificate(s) that issued the receiver's certificate (`ca_file`).
    public var caFile: String
    /// PEM client certificate chain (`client_cert`), with ``privateKeyFile``.
    public var certificateFile: String?
    /// PEM private key of the client certificate (`client_key`).
    public var privateKeyFile: String?
    /// The name the receiver's certificate must carry, when it is not the address's host
    /// (connecting by IP to a certificate issued for a DNS name). Also sent as SNI.
    public var serverName: String?

    public init(caFile: String, certificateFile: String? = nil, privateKeyFile: String? = nil, serverName: String? = nil) {
        self.caFile = caFile
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
        self.serverName = serverName
    }
}
