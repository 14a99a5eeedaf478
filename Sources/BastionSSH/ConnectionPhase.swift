import BastionCore

/// Where a front-door connection stands. Channels have their own states (``SessionChannel``:
/// nothing yet, a command, a relayed session; ``DirectTCPIPForward``): a connection may hold
/// several at once, so "relaying" or "forwarding" is what its channels do, not a phase of it.
enum ConnectionPhase: Equatable {
    /// Key exchange done; the client has not finished authenticating.
    case authenticating
    /// Authenticated: channels open and close under the enforcement point.
    case open
    /// The enforcement point ended the connection: each channel is told why and closed, then
    /// the connection hangs up (after the client, or after `hangUpGrace`).
    case ending
    /// Hang up now. `message` is the SSH disconnect reason the client prints (nil: libssh's
    /// default); with one, nothing more is answered, so the disconnect is the last write.
    case hangingUp(message: String?)

    var isHangingUp: Bool {
        if case .hangingUp = self { return true }
        return false
    }

    /// Whether the connection may still open channels and run things.
    var isOpen: Bool { self == .open }

    var disconnectMessage: String? {
        if case .hangingUp(let message) = self { return message }
        return nil
    }
}

/// What a connection's login has gathered so far.
struct LoginProgress {
    /// The user name the client sent (`alice`, `root@web01`), for audit records.
    var sshUsername = ""
    /// The key step passed; the TOTP step is next.
    var pending: Authenticator.PendingLogin?
    /// The certificate the last probe verified, for the signed request after it.
    var probedCertificate: Authenticator.VerifiedCertificate?
    var deniedAttempts = 0
    var wrongCodes = 0
    /// Whether the "temporarily unavailable" banner went out (once per connection).
    var unavailableAnnounced = false
}

/// The connection's `direct-tcpip` forwards and their row in the session registry.
struct ForwardingState {
    /// Open forwards a role allowed.
    var open: [DirectTCPIPForward] = []
    /// The registry row listing the connection's forwards (kind `forward`), and the
    /// destinations it lists.
    var recordID: SessionID?
    var destinations: [String] = []
}
