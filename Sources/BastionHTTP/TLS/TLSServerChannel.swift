public import HummingbirdCore
public import Logging
public import NIOCore

/// Hummingbird's HTTP/1 child channel with Bastion's OpenSSL TLS in front: the same shape as
/// HummingbirdTLS's `TLSChannel`, with ``TLSServerHandler`` in place of swift-nio-ssl's
/// (which cannot restrict TLS 1.3 cipher suites).
public struct TLSServerChannel<Base: ServerChildChannel>: ServerChildChannel {
    public typealias Value = Base.Value

    let base: Base
    let credentials: TLSServerCredentials

    public init(_ base: Base, credentials: TLSServerCredentials) {
        self.base = base
        self.credentials = credentials
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        // The context current at accept: a reload affects the next connection only.
        let context = credentials.current
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(TLSServerHandler(context: context, logger: logger), position: .first)
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    public func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension TLSServerChannel: HTTPChannelHandler where Base: HTTPChannelHandler {
    public var responder: HTTPChannelHandler.Responder { base.responder }
}

extension HTTPServerBuilder {
    /// HTTP/1, over TLS when `credentials` is given.
    public static func http1(tls credentials: TLSServerCredentials?) -> HTTPServerBuilder {
        .init { responder in
            let http1 = HTTP1Channel(responder: responder)
            guard let credentials else { return http1 }
            return TLSServerChannel(http1, credentials: credentials)
        }
    }
}
