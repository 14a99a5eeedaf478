public import BastionCore
public import BastionCrypto
public import Hummingbird
public import NIOCore
import HTTPTypes
import Logging

/// The context of every request Bastion serves: Hummingbird's own storage, the TCP peer, and
/// where the request came from as `http.trusted_proxies` allow it to be told (set by
/// ``ClientOriginMiddleware`` before any route runs).
public struct BastionRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The client behind a trusted proxy, or the peer itself; nil only where no middleware ran.
    public var origin: ForwardedFor.Origin?
    /// Hummingbird's request id when its server set one (it is in the request's log lines),
    /// else a fresh one: `RequestContext.id` traps when the logger lacks it.
    public let requestID: String
    /// The connection the request came on: its ``TLSServerHandler`` holds the client
    /// certificate's verified names.
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
        remoteAddress = source.channel.remoteAddress
        requestID = source.logger[metadataKey: "hb.request.id"]?.description ?? RequestID().description
    }

    /// The TCP peer, as audit records write addresses ("unknown" for a test channel).
    public var peer: ForwardedFor.Origin {
        ForwardedFor.Origin(address: remoteAddress?.ipAddress ?? "unknown", port: remoteAddress?.port ?? 0)
    }

    /// The verified client certificate of this request's connection: nil over plain HTTP,
    /// without `http.client_ca`, or when the client presented none. Read from the
    /// connection's own TLS handler, never from anything in the request.
    public func verifiedClientCertificate() async -> TLSPeerIdentity? {
        let channel = channel
        return try? await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: TLSServerHandler.self).peerIdentity
        }.get()
    }

    /// The `connection` block of an audit record about this request: the request's id and
    /// the client's address and port.
    public var auditConnection: AuditEvent.Connection {
        let origin = origin ?? peer
        return AuditEvent.Connection(id: ConnectionID(rawValue: "http-\(requestID)"), remoteAddress: origin.address, remotePort: origin.port)
    }
}

/// Decides each request's ``BastionRequestContext/origin``: the peer, or the client a
/// trusted proxy names in `Forwarded`/`X-Forwarded-For` (``ForwardedFor``).
public struct ClientOriginMiddleware: RouterMiddleware {
    public typealias Context = BastionRequestContext

    let resolver: ForwardedFor

    public init(trustedProxies: CIDRList?) {
        resolver = ForwardedFor(trustedProxies: trustedProxies)
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let peer = context.peer
        context.origin = resolver.origin(
            peerAddress: peer.address, peerPort: peer.port,
            forwarded: request.headers[values: Self.forwarded], xForwardedFor: request.headers[values: Self.xForwardedFor]
        )
        return try await next(request, context)
    }

    static let forwarded = HTTPField.Name("Forwarded")!
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
}
