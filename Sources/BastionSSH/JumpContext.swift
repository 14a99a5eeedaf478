import BastionCore

/// What an inner connection of an `ssh -J` jump is for. The outer connection answered a
/// `direct-tcpip` channel to a target by running Bastion's own SSH server inside it: the
/// inner client logs in as the target login (`root`, not `root@web01`), the target is fixed
/// by the channel, and only the outer connection's user may log in.
struct JumpContext: Sendable {
    /// The target the channel was opened to.
    var target: String
    /// The outer connection's authenticated user.
    var user: UserName
    /// The outer connection, for audit records.
    var outerConnection: ConnectionID
    /// Where the outer connection comes from: the inner connection's source in audit records
    /// and for a certificate's `source-address`.
    var source: Peer

    /// The username the inner login stands for: `LOGIN@TARGET`.
    func request(login: String) -> String { "\(login)@\(target)" }
}

/// Starts an inner connection on the given socket (it owns the socket from then on, even
/// when it refuses). Returns false when it could not start.
typealias JumpAcceptor = @Sendable (_ socket: Int32, _ jump: JumpContext) -> Bool
