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
    /// Open connections allowed from one source address; more are dropped before key
    /// exchange, so one host cannot exhaust the threads everyone else needs.
    public var maxConnectionsPerSource: Int
    /// Open connections allowed in all.
    public var maxConnections: Int

    public init(
        host: String, port: Int, hostKeyPath: String, loginGraceTime: TimeInterval = 60,
        maxAuthAttempts: Int = 10, maxCodeAttempts: Int = 3, maxConnectionsPerSource: Int = 64, maxConnections: Int = 1024
    ) {
        self.host = host
        self.port = port
        self.hostKeyPath = hostKeyPath
        self.loginGraceTime = loginGraceTime
        self.maxAuthAttempts = maxAuthAttempts
        self.maxCodeAttempts = maxCodeAttempts
        self.maxConnectionsPerSource = maxConnectionsPerSource
        self.maxConnections = maxConnections
    }
}

/// The algorithm lists Bastion offers: explicit, modern only.
///
/// No compression (CRIME-style leaks, and it is a parser attack surface), no CBC, no SHA-1
/// MACs, no DH group1/group14; host key Ed25519 only. RSA user keys sign with SHA-2 only
/// (`ssh-rsa` means SHA-1 signatures and is refused). libssh 0.10.6 (Debian) adds the
/// strict-kex marker (Terrapin, CVE-2023-48795) itself.
enum AlgorithmPolicy {
    static let keyExchange = [
        "curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384",
        "ecdh-sha2-nistp521", "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512",
    ].joined(separator: ",")
    static let ciphers = [
        "chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com",
        "aes256-ctr", "aes192-ctr", "aes128-ctr",
    ].joined(separator: ",")
    static let macs = [
        "hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512",
    ].joined(separator: ",")
    static let hostKeys = "ssh-ed25519"
    static let userKeys = [
        "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
        "rsa-sha2-512", "rsa-sha2-256",
        "ssh-ed25519-cert-v01@openssh.com", "ecdsa-sha2-nistp256-cert-v01@openssh.com",
        "ecdsa-sha2-nistp384-cert-v01@openssh.com", "ecdsa-sha2-nistp521-cert-v01@openssh.com",
        "rsa-sha2-512-cert-v01@openssh.com", "rsa-sha2-256-cert-v01@openssh.com",
    ].joined(separator: ",")
}
