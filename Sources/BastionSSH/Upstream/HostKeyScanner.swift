public import BastionCore
import CLibSSH
public import Foundation

/// Reads a host's keys without authenticating: for `bastiond target scan` (what to pin)
/// and `bastiond target check` (is the pin still right).
///
/// Each key comes from a completed key exchange, so the host proved it holds the private
/// half; whether the host is the intended one is for the operator to confirm out of band.
/// Blocking: call it off Swift's cooperative pool.
public enum HostKeyScanner {
    /// The key families asked for one by one, in the order they are returned.
    static let families = ["ssh-ed25519", "ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521", "rsa-sha2-512,rsa-sha2-256"]

    /// Connects to host:port and returns the server's host keys (Ed25519 first), one key
    /// exchange per key family; at least the key libssh negotiates with Bastion's preferences.
    /// Throws `.unreachable` when the first exchange fails.
    public static func scan(
        host: String, port: Int, timeout: TimeInterval, algorithms: SSHAlgorithms = .defaults
    ) throws(UpstreamError) -> [SSHPublicKey] {
        let preferred = try presentedKey(
            host: host, port: port, hostKeyAlgorithms: UpstreamTransport.allHostKeyAlgorithms, algorithms: algorithms, timeout: timeout
        )
        var keys: [SSHPublicKey] = []
        for (index, familyAlgorithms) in families.enumerated() {
            if index == family(of: preferred) {
                keys.append(preferred)
                continue
            }
            // A host without a key of this family fails the exchange: not an error here.
            if let key = try? presentedKey(host: host, port: port, hostKeyAlgorithms: familyAlgorithms, algorithms: algorithms, timeout: timeout) {
                keys.append(key)
            }
        }
        return keys
    }

    /// Connects with only the pinned key's type offered and returns the presented key when it
    /// equals `pinned`. Throws `.hostKeyMismatch` (detail: presented fingerprint) or `.unreachable`.
    @discardableResult
    public static func check(
        host: String, port: Int, pinned: SSHPublicKey, timeout: TimeInterval, algorithms: SSHAlgorithms = .defaults
    ) throws(UpstreamError) -> SSHPublicKey {
        let connected = try UpstreamTransport.open(
            host: host, port: port, login: nil, hostKeyAlgorithms: UpstreamTransport.hostKeyAlgorithms(for: pinned), algorithms: algorithms,
            timeout: timeout
        )
        hangUp(connected.session)
        guard connected.hostKeyBlob == pinned.blob else {
            throw UpstreamError(
                .hostKeyMismatch, connected.hostKeyFingerprint, presentedHostKey: try? SSHPublicKey(blob: connected.hostKeyBlob)
            )
        }
        return pinned
    }

    /// Index into ``families``.
    private static func family(of key: SSHPublicKey) -> Int {
        switch key.kind {
        case .ed25519: 0
        case .ecdsa: 1
        case .rsa: 2
        }
    }

    private static func presentedKey(
        host: String, port: Int, hostKeyAlgorithms: String, algorithms: SSHAlgorithms, timeout: TimeInterval
    ) throws(UpstreamError) -> SSHPublicKey {
        let connected = try UpstreamTransport.open(
            host: host, port: port, login: nil, hostKeyAlgorithms: hostKeyAlgorithms, algorithms: algorithms, timeout: timeout
        )
        hangUp(connected.session)
        do {
            return try SSHPublicKey(blob: connected.hostKeyBlob)
        } catch {
            throw UpstreamError(.unreachable, "\(host):\(port) presented a key Bastion cannot pin (\(connected.hostKeyFingerprint)): \(error)")
        }
    }

    private static func hangUp(_ session: OpaquePointer) {
        ssh_disconnect(session)
        ssh_free(session)
    }
}
