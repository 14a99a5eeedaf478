public import BastionCore
public import Foundation

/// How the front door listens and what it offers.
public struct SSHServerConfiguration: Sendable {
    public var host: String
    /// 0 picks a free port (tests); ``SSHServer/start()`` returns the real one.
    public var port: Int
    public var hostKeyPath: String
    /// Time allowed from TCP accept to the end of authentication.
    public var loginGraceTime: TimeInterval
    /// Refused authentication requests tolerated on one connection before hanging up.
    public var maxAuthAttempts: Int
    /// Wrong TOTP codes tolerated on one connection (OpenSSH asks three times).
    public var maxCodeAttempts: Int
    /// Limits on unauthenticated connections (the login grace time is ``loginGraceTime``).
    public var admission: AdmissionSettings
    /// Per-source penalties for failed, abandoned and malformed handshakes.
    public var penalties: PenaltyBox.Settings
    /// Key exchange, ciphers and MACs offered to clients.
    public var algorithms: SSHAlgorithms
    /// `ssh.trusted_proxies`: load balancers whose connections must start with a PROXY v2
    /// header naming the client; from anyone else a header is refused. nil: none.
    public var trustedProxies: CIDRList?

    public init(
        host: String, port: Int, hostKeyPath: String, loginGraceTime: TimeInterval = 60, maxAuthAttempts: Int = 10, maxCodeAttempts: Int = 3,
        admission: AdmissionSettings = .defaults, penalties: PenaltyBox.Settings = .defaults, algorithms: SSHAlgorithms = .defaults,
        trustedProxies: CIDRList? = nil
    ) {
        self.trustedProxies = trustedProxies
        self.host = host
        self.port = port
        self.hostKeyPath = hostKeyPath
        self.loginGraceTime = loginGraceTime
        self.maxAuthAttempts = maxAuthAttempts
        self.maxCodeAttempts = maxCodeAttempts
        self.admission = admission
        self.penalties = penalties
        self.algorithms = algorithms
    }
}

/// The host key and user key algorithms Bastion accepts (key exchange, ciphers and MACs are
/// ``SSHAlgorithms``, configurable).
///
/// Host key Ed25519 only. RSA user keys sign with SHA-2 only (`ssh-rsa` means SHA-1
/// signatures and is refused).
enum AlgorithmPolicy {
    static let hostKeys = "ssh-ed25519"
    static let userKeys = [
        "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "rsa-sha2-512", "rsa-sha2-256",
        "ssh-ed25519-cert-v01@openssh.com", "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ecdsa-sha2-nistp384-cert-v01@openssh.com", "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        "rsa-sha2-512-cert-v01@openssh.com", "rsa-sha2-256-cert-v01@openssh.com",
    ].joined(separator: ",")
}

/// Where a connection comes from: the socket's peer, or the client a trusted proxy named.
struct Peer: Sendable, Equatable {
    var address: String
    var port: Int
}
