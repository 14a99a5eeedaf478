/// Sends octet-counted syslog frames to one receiver over TCP (RFC 6587) or TLS (RFC 5425).
///
/// Blocking, by design: a sink runs on a thread of its own, like every connection in bastiond
/// (STYLE rule 2), and must never block Swift's cooperative pool. One thread owns a sender; it
/// is not `Sendable`.
///
/// Plain TCP syslog has no acknowledgement: a frame written just before the receiver dies
/// can be lost without an error. The sender narrows that window (it checks for the peer's
/// close before each write, and ``close()`` waits for the receiver's EOF, which comes only
/// after it has read everything), but at-least-once delivery is the outbox's job: it keeps a
/// record until a later write on the same connection has succeeded, and resends after a
/// reconnect, under the same event id.
public final class SyslogSender {
    public let endpoint: SyslogEndpoint
    public let tls: TLSClientConfiguration?
    public let connectTimeout: Duration
    public let sendTimeout: Duration

    private enum Transport {
        case tcp(TCPSocket)
        case tls(TLSSession)
    }

    private var transport: Transport?

    /// - Parameters:
    ///   - tls: nil for plain TCP; otherwise RFC 5425 with these settings.
    ///   - connectTimeout: bounds name resolution's connect and the TLS handshake.
    ///   - sendTimeout: a write that cannot progress this long (receiver not reading) fails.
    public init(endpoint: SyslogEndpoint, tls: TLSClientConfiguration? = nil, connectTimeout: Duration = .seconds(5), sendTimeout: Duration = .seconds(10)) {
        self.endpoint = endpoint
        self.tls = tls
        self.connectTimeout = connectTimeout
        self.sendTimeout = sendTimeout
    }

    deinit {
        close()
    }

    /// Whether a connection is open (it may still turn out closed by the peer on the next send).
    public var isConnected: Bool { transport != nil }

    /// Connects (and runs the TLS handshake). A sender already connected is closed first.
    public func connect() throws(SIEMError) {
        close()
        let socket = try TCPSocket.connect(to: endpoint, timeout: connectTimeout, sendTimeout: sendTimeout)
        if let tls {
            transport = .tls(try TLSSession.handshake(over: socket, configuration: tls, timeout: connectTimeout))
        } else {
            transport = .tcp(socket)
        }
    }

    /// Writes `framed` (one or more octet-counted frames, see ``OctetCounting``) entirely.
    ///
    /// Throws `sendFailed` when the receiver has closed the connection or the write fails;
    /// the connection is then dropped and the caller reconnects and resends.
    public func send(_ framed: [UInt8]) throws(SIEMError) {
        guard let transport else { throw SIEMError(.notConnected, "not connected to \(endpoint)") }
        do throws(SIEMError) {
            switch transport {
            case .tcp(let socket):
                guard !socket.peerHasClosed else { throw SIEMError(.sendFailed, "\(endpoint) closed the connection") }
                try socket.write(framed)
            case .tls(let session):
                guard !session.peerHasClosed else { throw SIEMError(.sendFailed, "\(endpoint) closed the TLS session") }
                try session.write(framed)
            }
        } catch {
            self.transport = nil
            throw error
        }
    }

    /// Closes the connection: TLS close_notify, then a half-close, waiting (briefly) for the
    /// receiver to close its side so that nothing sent is cut off by a reset. Idempotent.
    public func close() {
        guard let transport else { return }
        self.transport = nil
        switch transport {
        case .tcp(let socket): socket.shutdownAndDrain(timeout: .seconds(2))
        case .tls(let session): session.close(timeout: .seconds(2))
        }
    }
}
