public import BastionCrypto
import Synchronization

/// The HTTP listener's TLS context as it stands: built from the PEM files at start and
/// rebuilt from them on SIGHUP (a renewed certificate is picked up without a restart).
/// A new connection takes the context current at its accept; connections already open keep
/// theirs until they close.
public final class TLSServerCredentials: Sendable {
    /// `[http]`'s TLS files and version floor.
    public struct Files: Sendable, Equatable {
        public var certificate: String
        public var key: String
        public var clientCA: String?
        public var minimumVersion: TLSProtocolVersion

        public init(certificate: String, key: String, clientCA: String?, minimumVersion: TLSProtocolVersion) {
            self.certificate = certificate
            self.key = key
            self.clientCA = clientCA
            self.minimumVersion = minimumVersion
        }
    }

    /// The one owner of the current context (STYLE rule 4).
    private let state: Mutex<TLSContext>
    /// Whether the listener asks for client certificates; fixed for the process (turning
    /// mutual TLS on or off changes what the sudo check requires, so it waits for a restart).
    public let verifiesClients: Bool

    /// - Throws: `.tlsConfiguration` naming the file that cannot be used and why.
    public init(_ files: Files) throws(CryptoError) {
        let context = try Self.context(files)
        state = Mutex(context)
        verifiesClients = context.verifiesClients
    }

    public var current: TLSContext { state.withLock { $0 } }

    /// Builds the context of `files` without changing anything; the returned closure swaps it
    /// in. A file that cannot be used throws here and the running context stays.
    public func prepareReload(_ files: Files) throws(CryptoError) -> @Sendable () -> Void {
        guard (files.clientCA != nil) == verifiesClients else {
            throw CryptoError(.tlsConfiguration, "client_ca added or removed: needs a restart")
        }
        let next = try Self.context(files)
        return { self.state.withLock { $0 = next } }
    }

    private static func context(_ files: Files) throws(CryptoError) -> TLSContext {
        try TLSContext.server(
            certificateFile: files.certificate, keyFile: files.key, clientCAFile: files.clientCA, minimumVersion: files.minimumVersion
        )
    }
}
