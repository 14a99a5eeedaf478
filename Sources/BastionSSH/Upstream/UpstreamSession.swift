public import BastionCore
import CLibSSH
import Synchronization

/// An authenticated libssh client session to a target, in blocking mode.
///
/// Threading rule: libssh sessions are not thread-safe. One thread at a time drives
/// `session`: the thread that called ``UpstreamConnector/connect(_:authority:now:)`` until it
/// hands the session over (by starting the relay's thread, or through a lock), then that
/// thread alone. ``close()`` belongs to the same owner, after it has stopped polling the
/// session (and removed it from any `ssh_event`); it is idempotent, and `deinit` calls it
/// as a last resort.
///
/// `@unchecked Sendable`: the pointer is used under the rule above, not under a lock; the
/// only state shared between threads is `closed`, guarded by its `Mutex`.
public final class UpstreamSession: @unchecked Sendable {
    /// The `ssh_session`. Valid until ``close()``; do not free it yourself.
    public let session: OpaquePointer
    /// The per-session certificate the target accepted (serial and key ID for the audit log).
    public let certificate: SSHCertificate
    /// The host key the target proved it holds (equal to the pinned key).
    public let hostKey: SSHPublicKey
    /// e.g. `curve25519-sha256`.
    public let negotiatedKex: String
    /// e.g. `chacha20-poly1305@openssh.com` (target to Bastion direction).
    public let negotiatedCipher: String

    private let closed = Mutex(false)

    init(session: OpaquePointer, certificate: SSHCertificate, hostKey: SSHPublicKey) {
        self.session = session
        self.certificate = certificate
        self.hostKey = hostKey
        negotiatedKex = ssh_get_kex_algo(session).map { String(cString: $0) } ?? "unknown"
        negotiatedCipher = ssh_get_cipher_in(session).map { String(cString: $0) } ?? "unknown"
    }

    /// Whether the TCP connection is still up (false after ``close()``). Owner thread only.
    public var isConnected: Bool {
        closed.withLock { $0 ? false : ssh_is_connected(session) != 0 }
    }

    /// Sends SSH_MSG_DISCONNECT, closes the socket and frees the session (and its channels).
    public func close() {
        let first = closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        guard first else { return }
        ssh_disconnect(session)
        ssh_free(session)
    }

    deinit {
        close()
    }
}
