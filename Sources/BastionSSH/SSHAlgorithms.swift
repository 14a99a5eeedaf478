/// The key exchange, cipher and MAC lists Bastion offers, on the front door and toward
/// targets alike (`ssh.kex_algorithms`, `ssh.ciphers`, `ssh.macs`).
///
/// The defaults pass common SSH hardening scanners: curve25519 and the 4096/8192-bit DH
/// groups (no NIST curves, no SHA-1), AEAD and CTR ciphers, encrypt-then-MAC MACs only.
/// libssh 0.10.6 (Debian) adds the strict-kex marker (Terrapin, CVE-2023-48795) itself.
/// Compression is never offered, host keys are Ed25519 and RSA signs with SHA-2 only.
public struct SSHAlgorithms: Sendable, Equatable {
    public var keyExchange: [String]
    public var ciphers: [String]
    public var macs: [String]

    public init(keyExchange: [String] = Self.defaults.keyExchange, ciphers: [String] = Self.defaults.ciphers, macs: [String] = Self.defaults.macs) {
        self.keyExchange = keyExchange
        self.ciphers = ciphers
        self.macs = macs
    }

    public static let defaults = SSHAlgorithms(
        keyExchange: ["curve25519-sha256", "curve25519-sha256@libssh.org", "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512"],
        ciphers: [
            "chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "aes256-ctr", "aes192-ctr", "aes128-ctr",
        ],
        macs: ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com"]
    )

    /// One of the three lists, for validation and messages.
    public enum Kind: String, Sendable, CaseIterable {
        case keyExchange = "key exchange algorithm"
        case cipher
        case mac = "MAC"

        /// What libssh 0.10.6 implements and Bastion may offer when a site asks for it (NIST
        /// curves for FIPS, encrypt-and-MAC for old clients).
        public var offerable: [String] {
            switch self {
            case .keyExchange:
                [
                    "curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
                    "diffie-hellman-group16-sha512", "diffie-hellman-group18-sha512", "diffie-hellman-group14-sha256",
                ]
            case .cipher:
                ["chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com", "aes128-gcm@openssh.com", "aes256-ctr", "aes192-ctr", "aes128-ctr"]
            case .mac:
                ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512"]
            }
        }

        /// Names libssh knows that Bastion refuses whatever the configuration says.
        public func refusal(of name: String) -> String? {
            if name == "none" { return "\"none\" is refused" }
            if name.contains("sha1") { return "\(name) uses SHA-1, which is refused" }
            if name.hasSuffix("-cbc") || name.contains("-cbc@") { return "\(name) is a CBC cipher, which is refused" }
            if name.hasPrefix("diffie-hellman-group1-") || name.hasPrefix("diffie-hellman-group-exchange") {
                return "\(name) is refused (weak or server-chosen groups)"
            }
            return nil
        }
    }

    /// Why `names` cannot be offered as the `kind` list, or nil when they can.
    public static func problem(with names: [String], as kind: Kind) -> String? {
        guard !names.isEmpty else { return "must list at least one \(kind.rawValue)" }
        for name in names {
            if let refusal = kind.refusal(of: name) { return refusal }
            guard kind.offerable.contains(name) else {
                return "unknown \(kind.rawValue) \"\(name)\" (known: \(kind.offerable.joined(separator: ", ")))"
            }
        }
        guard Set(names).count == names.count else { return "lists a \(kind.rawValue) twice" }
        return nil
    }

    var keyExchangeList: String { keyExchange.joined(separator: ",") }
    var cipherList: String { ciphers.joined(separator: ",") }
    var macList: String { macs.joined(separator: ",") }
}
