import BastionCore
import CLibSSH
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The client half of one connection to a target, up to and including key exchange:
/// libssh options, TCP connect, and the host key the server proved it holds.
///
/// Shared by ``UpstreamConnector`` (which then authenticates) and ``HostKeyScanner`` (which
/// only looks). Blocking: call it on a thread of its own, never on Swift's cooperative pool.
enum UpstreamTransport {
    /// An open, key-exchanged, unauthenticated session. The caller owns `session`.
    struct Connected {
        let session: OpaquePointer
        /// Wire blob of the host key that signed the exchange.
        let hostKeyBlob: [UInt8]
        /// `SHA256:…` of that key, as `ssh-keygen -l` prints it.
        let hostKeyFingerprint: String
    }

    /// The host key algorithms to offer so that the server signs the key exchange with a key
    /// of the pinned key's type; otherwise a server holding several host keys could present
    /// another one and a correct pin would look like a mismatch.
    static func hostKeyAlgorithms(for key: SSHPublicKey) -> String {
        switch key.kind {
        case .ed25519: "ssh-ed25519"
        case .ecdsa(let curve): "ecdsa-sha2-\(curve)"
        // SHA-2 signatures only (RFC 8332); ssh-rsa (SHA-1) is not offered.
        case .rsa: "rsa-sha2-512,rsa-sha2-256"
        }
    }

    /// Every host key algorithm Bastion accepts, Ed25519 first.
    static let allHostKeyAlgorithms = [
        "ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256",
    ].joined(separator: ",")

    /// User key types offered in authentication: the per-session certificate and its key.
    static let userKeyAlgorithms = "ssh-ed25519-cert-v01@openssh.com,ssh-ed25519"

    /// Creates a libssh client session, connects to `host:port` and completes key exchange.
    /// Throws `.unreachable` for anything up to and including key exchange.
    static func open(
        host: String, port: Int, login: String?, hostKeyAlgorithms: String, algorithms: SSHAlgorithms, timeout: TimeInterval
    ) throws(UpstreamError) -> Connected {
        ssh_init()
        // A target that hangs up while we write must not kill bastiond.
        signal(SIGPIPE, SIG_IGN)
        guard (1...65_535).contains(port) else { throw UpstreamError(.unreachable, "invalid port \(port)") }
        guard let session = ssh_new() else { throw UpstreamError(.unreachable, "ssh_new failed") }
        do throws(UpstreamError) {
            try configure(
                session, host: host, port: port, login: login, hostKeyAlgorithms: hostKeyAlgorithms, algorithms: algorithms, timeout: timeout
            )
            guard ssh_connect(session) == SSH_OK else {
                throw UpstreamError(.unreachable, "\(host):\(port): \(LibSSH.errorText(session))")
            }
            var serverKey: ssh_key?
            guard ssh_get_server_publickey(session, &serverKey) == SSH_OK, let serverKey else {
                throw UpstreamError(.unreachable, "\(host):\(port): no host key after key exchange")
            }
            defer { ssh_key_free(serverKey) }
            guard let blob = LibSSH.blob(of: serverKey) else {
                throw UpstreamError(.unreachable, "\(host):\(port): cannot export the host key")
            }
            return Connected(session: session, hostKeyBlob: blob, hostKeyFingerprint: fingerprint(of: serverKey))
        } catch {
            ssh_disconnect(session)
            ssh_free(session)
            throw error
        }
    }

    /// Options for a client session toward a target. Nothing comes from the machine's
    /// ssh_config or known_hosts: the configuration file is the only source of trust.
    private static func configure(
        _ session: OpaquePointer, host: String, port: Int, login: String?, hostKeyAlgorithms: String, algorithms: SSHAlgorithms,
        timeout: TimeInterval
    ) throws(UpstreamError) {
        var noConfig = false
        var portNumber = UInt32(port)
        var seconds = Int(max(1, timeout.rounded(.up)))
        var noDelay: Int32 = 1
        var results: [(String, Int32)] = [
            ("process config", ssh_options_set(session, SSH_OPTIONS_PROCESS_CONFIG, &noConfig)),
            ("host", ssh_options_set(session, SSH_OPTIONS_HOST, host)),
            ("port", ssh_options_set(session, SSH_OPTIONS_PORT, &portNumber)),
            ("timeout", ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &seconds)),
            ("nodelay", ssh_options_set(session, SSH_OPTIONS_NODELAY, &noDelay)),
        ]
        if let login { results.append(("user", ssh_options_set(session, SSH_OPTIONS_USER, login))) }
        let strings: [(String, ssh_options_e, String)] = [
            ("known hosts", SSH_OPTIONS_KNOWNHOSTS, "/dev/null"),
            ("global known hosts", SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null"),
            ("key exchange", SSH_OPTIONS_KEY_EXCHANGE, algorithms.keyExchangeList),
            ("ciphers", SSH_OPTIONS_CIPHERS_C_S, algorithms.cipherList),
            ("ciphers", SSH_OPTIONS_CIPHERS_S_C, algorithms.cipherList),
            ("MACs", SSH_OPTIONS_HMAC_C_S, algorithms.macList),
            ("MACs", SSH_OPTIONS_HMAC_S_C, algorithms.macList),
            ("host key algorithms", SSH_OPTIONS_HOSTKEYS, hostKeyAlgorithms),
            ("user key algorithms", SSH_OPTIONS_PUBLICKEY_ACCEPTED_TYPES, userKeyAlgorithms),
            ("compression", SSH_OPTIONS_COMPRESSION_C_S, "none"),
            ("compression", SSH_OPTIONS_COMPRESSION_S_C, "none"),
        ]
        for (name, option, value) in strings {
            results.append((name, ssh_options_set(session, option, value)))
        }
        if let failed = results.first(where: { $0.1 != SSH_OK }) {
            throw UpstreamError(.unreachable, "setting \(failed.0): \(LibSSH.errorText(session))")
        }
    }

    /// `SHA256:` + unpadded Base64, computed by libssh so that it works for any key type.
    static func fingerprint(of key: ssh_key) -> String {
        var hash: UnsafeMutablePointer<UInt8>?
        var length = 0
        guard ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &length) == SSH_OK, let hash else {
            return "SHA256:?"
        }
        defer {
            var owned: UnsafeMutablePointer<UInt8>? = hash
            ssh_clean_pubkey_hash(&owned)
        }
        guard let text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, length) else { return "SHA256:?" }
        defer { free(text) }
        return String(cString: text)
    }
}
