public import BastionCrypto
public import NIOCore
public import Logging

/// TLS for one HTTP connection, first in the pipeline: ciphertext from the socket goes
/// through a ``TLSConnection`` (OpenSSL over memory BIOs) and plaintext on to the HTTP
/// decoder; responses come back the other way.
///
/// Also the one place the client certificate's verified names are kept (``peerIdentity``),
/// set at the end of this connection's handshake, before any plaintext is passed on, and
/// never changed after (no renegotiation, no resumption, no post-handshake auth). Nothing
/// the client sends as HTTP can reach it.
public final class TLSServerHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = IOData
    public typealias OutboundOut = IOData

    /// A client that has not finished its handshake by then is closed: an unauthenticated
    /// socket must not be held open for ever.
    static let handshakeTimeout = TimeAmount.seconds(10)
    /// Plaintext read per `SSL_read_ex`: one TLS record's worth.
    static let readChunk = 16 * 1024

    private let connection: TLSConnection
    private let logger: Logger
    /// Writes that arrive before the handshake ends (none, in HTTP/1: the server speaks
    /// second) are held, not encrypted early.
    private var heldWrites: [(ByteBuffer, EventLoopPromise<Void>?)] = []
    private var handshakeDeadline: Scheduled<Void>?
    private var closed = false

    /// The verified client certificate's names (subject CN, DNS SANs); nil without
    /// `client_ca`, without a certificate, or before the handshake completes.
    public private(set) var peerIdentity: TLSPeerIdentity?

    public init(context: TLSContext, logger: Logger) throws(CryptoError) {
        connection = try TLSConnection(context: context)
        self.logger = logger
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        handshakeDeadline = context.eventLoop.scheduleTask(in: Self.handshakeTimeout) {
            let (handler, context) = loopBound.value
            guard !handler.connection.isHandshakeComplete else { return }
            handler.logger.debug("TLS handshake timed out", metadata: ["peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
            handler.closeNow(context)
        }
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        handshakeDeadline?.cancel()
        failHeldWrites(ChannelError.ioOnClosedChannel)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !closed else { return }
        let buffer = unwrapInboundIn(data)
        buffer.withUnsafeReadableBytes { connection.receive($0) }
        advance(context)
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        sendCiphertext(context, promise: nil, flush: true)
        context.fireChannelReadComplete()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        closed = true
        handshakeDeadline?.cancel()
        failHeldWrites(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .byteBuffer(let buffer) = unwrapOutboundIn(data) else {
            // File regions would bypass the encryption: Bastion's routes never send them.
            promise?.fail(ChannelError.operationUnsupported)
            return
        }
        guard !closed else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        guard connection.isHandshakeComplete else {
            heldWrites.append((buffer, promise))
            return
        }
        encrypt(buffer, context: context, promise: promise)
    }

    public func flush(context: ChannelHandlerContext) {
        guard connection.isHandshakeComplete else { return }
        context.flush()
    }

    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if !closed, mode != .input, connection.isHandshakeComplete {
            // close_notify (RFC 8446 §6.1), so the client can tell the end from a truncation.
            connection.shutdown()
            sendCiphertext(context, promise: nil, flush: true)
        }
        if mode != .input { closed = true }
        context.close(mode: mode, promise: promise)
    }

    // MARK: - Steps

    /// Runs the handshake on, then passes every whole record's plaintext up.
    private func advance(_ context: ChannelHandlerContext) {
        if !connection.isHandshakeComplete {
            switch connection.handshake() {
            case .inProgress:
                sendCiphertext(context, promise: nil, flush: true)
                return
            case .failed(let error):
                // The alert OpenSSL queued goes out first; the reason stays in the log.
                logger.debug("TLS handshake refused", metadata: ["peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")", "reason": "\(error.reason)"])
                sendCiphertext(context, promise: nil, flush: true)
                closeNow(context)
                return
            case .complete:
                handshakeDeadline?.cancel()
                peerIdentity = connection.peerIdentity
                sendCiphertext(context, promise: nil, flush: true)
                let held = heldWrites
                heldWrites = []
                for (buffer, promise) in held { encrypt(buffer, context: context, promise: promise) }
                if !held.isEmpty { context.flush() }
            }
        }
        while !closed {
            var outcome = TLSConnection.ReadResult.needsInput
            var plaintext = context.channel.allocator.buffer(capacity: Self.readChunk)
            plaintext.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.readChunk) { bytes in
                outcome = connection.read(into: bytes)
                if case .read(let count) = outcome { return count }
                return 0
            }
            switch outcome {
            case .read(let count):
                if count > 0 { context.fireChannelRead(wrapInboundOut(plaintext)) }
            case .needsInput:
                sendCiphertext(context, promise: nil, flush: true)
                return
            case .closed:
                closeNow(context)
                return
            case .failed(let error):
                logger.debug("TLS record refused", metadata: ["reason": "\(error.reason)"])
                sendCiphertext(context, promise: nil, flush: true)
                closeNow(context)
                return
            }
        }
    }

    private func encrypt(_ buffer: ByteBuffer, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        let failure = buffer.withUnsafeReadableBytes { bytes -> CryptoError? in
            do throws(CryptoError) { try connection.write(bytes) } catch { return error }
            return nil
        }
        if let failure {
            promise?.fail(failure)
            closeNow(context)
            return
        }
        sendCiphertext(context, promise: promise, flush: false, always: true)
    }

    /// Writes what OpenSSL queued for the peer; `always` writes (and completes `promise`)
    /// even when nothing is queued.
    private func sendCiphertext(_ context: ChannelHandlerContext, promise: EventLoopPromise<Void>?, flush: Bool, always: Bool = false) {
        let count = connection.pendingCiphertext
        guard count > 0 || always else { return }
        var out = context.channel.allocator.buffer(capacity: count)
        if count > 0 {
            out.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { connection.takeCiphertext(into: $0) }
        }
        if flush {
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(out)), promise: promise)
        } else {
            context.write(wrapOutboundOut(.byteBuffer(out)), promise: promise)
        }
    }

    /// Closes without close_notify (a failed handshake or record: there is no session to end).
    private func closeNow(_ context: ChannelHandlerContext) {
        guard !closed else { return }
        closed = true
        failHeldWrites(ChannelError.ioOnClosedChannel)
        context.close(promise: nil)
    }

    private func failHeldWrites(_ error: any Error) {
        let held = heldWrites
        heldWrites = []
        for (_, promise) in held { promise?.fail(error) }
    }
}

@available(*, unavailable)
extension TLSServerHandler: Sendable {}
