internal import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// An OpenSSL 3 `SSL_CTX`, configured once and then only read: the certificate and key, the
/// versions and cipher suites, and whether (and against which CA) client certificates are
/// verified. ``TLSConnection``s are made from it; a reload builds a new one and swaps it in,
/// while connections already open keep the one they started with.
///
/// Why OpenSSL rather than swift-nio-ssl: BoringSSL cannot restrict TLS 1.3 cipher suites
/// (it always offers and prefers TLS_AES_128_GCM_SHA256), and Bastion allows AES-256-GCM and
/// ChaCha20-Poly1305 only. It is also the library and provider the rest of Bastion's
/// cryptography uses, so one FIPS configuration covers it.
///
/// `@unchecked Sendable`: no lock, because nothing changes after `init`; OpenSSL allows
/// `SSL_new` on one `SSL_CTX` from several threads at once (its reference count and
/// internal caches are locked by OpenSSL itself).
public final class TLSContext: @unchecked Sendable {
    let pointer: OpaquePointer
    /// The server asks for a client certificate and verifies any it gets (`client_ca`).
    public let verifiesClients: Bool
    let isServer: Bool

    /// TLS 1.3 suites: AES-256-GCM and ChaCha20-Poly1305 only (never AES-128).
    public static let tls13CipherSuites = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
    /// TLS 1.2 suites, when opted in: ECDHE only (forward secrecy), AEAD only.
    public static let tls12CipherList =
        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"
    /// Key exchange groups: X25519 first, P-256 for FIPS-minded clients.
    public static let groups = "X25519:P-256"

    private init(pointer: OpaquePointer, verifiesClients: Bool, isServer: Bool) {
        self.pointer = pointer
        self.verifiesClients = verifiesClients
        self.isServer = isServer
    }

    deinit {
        SSL_CTX_free(pointer)
    }

    /// A server context from PEM files.
    /// - Parameters:
    ///   - certificateFile: the server's certificate, then any intermediates.
    ///   - keyFile: its private key (unencrypted PEM).
    ///   - clientCAFile: a PEM bundle: when given, a client certificate is asked for, optional,
    ///     and any presented must chain to one of these (the system store is never used).
    ///   - minimumVersion: 1.3, or 1.2 for clients that lack 1.3.
    /// - Throws: `.tlsConfiguration` naming the file and the reason.
    public static func server(
        certificateFile: String, keyFile: String, clientCAFile: String? = nil, minimumVersion: TLSProtocolVersion = .tls13
    ) throws(CryptoError) -> TLSContext {
        ERR_clear_error()
        guard let method = TLS_server_method(), let pointer = SSL_CTX_new(method) else {
            throw CryptoError.openSSL(.tlsConfiguration, "SSL_CTX_new")
        }
        let context = TLSContext(pointer: pointer, verifiesClients: clientCAFile != nil, isServer: true)
        try context.restrictProtocol(minimumVersion: minimumVersion)
        bastion_SSL_CTX_set_server_hardening(pointer)
        try readable(certificateFile, "certificate")
        guard SSL_CTX_use_certificate_chain_file(pointer, certificateFile) == 1 else {
            throw CryptoError.openSSL(.tlsConfiguration, "certificate \(certificateFile): not a PEM certificate")
        }
        try readable(keyFile, "private key")
        guard SSL_CTX_use_PrivateKey_file(pointer, keyFile, SSL_FILETYPE_PEM) == 1 else {
            // OpenSSL compares the key with the certificate as it loads it.
            let mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH
            throw CryptoError.openSSL(
                .tlsConfiguration,
                "private key \(keyFile): " + (mismatch ? "does not match the certificate \(certificateFile)" : "not an unencrypted PEM private key")
            )
        }
        guard SSL_CTX_check_private_key(pointer) == 1 else {
            throw CryptoError.openSSL(.tlsConfiguration, "private key \(keyFile): does not match the certificate \(certificateFile)")
        }
        if let clientCAFile {
            try readable(clientCAFile, "client CA bundle")
            guard SSL_CTX_load_verify_file(pointer, clientCAFile) == 1 else {
                throw CryptoError.openSSL(.tlsConfiguration, "client CA bundle \(clientCAFile): no PEM certificate in it")
            }
            // The CA names the server sends in its CertificateRequest, so clients holding
            // several certificates (browsers, curl) pick one this CA issued.
            guard let names = SSL_load_client_CA_file(clientCAFile) else {
                throw CryptoError.openSSL(.tlsConfiguration, "client CA bundle \(clientCAFile): no PEM certificate in it")
            }
            SSL_CTX_set_client_CA_list(pointer, names)
            // Asked for, not required: people's browsers present none, and the routes that
            // need one (the sudo check) refuse without it.
            SSL_CTX_set_verify(pointer, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, nil)
        } else {
            SSL_CTX_set_verify(pointer, SSL_VERIFY_NONE, nil)
        }
        ERR_clear_error()
        return context
    }

    /// What a client context may differ in; the defaults are Bastion's server policy.
    public struct ClientOptions: Sendable {
        /// The CA the server's certificate must chain to.
        public var caFile: String
        /// A client certificate and its key, or none.
        public var certificateFile: String?
        public var keyFile: String?
        public var minimumVersion: TLSProtocolVersion
        public var maximumVersion: TLSProtocolVersion
        public var tls13CipherSuites: String
        public var tls12CipherList: String

        public init(
            caFile: String, certificateFile: String? = nil, keyFile: String? = nil, minimumVersion: TLSProtocolVersion = .tls13,
            maximumVersion: TLSProtocolVersion = .tls13, tls13CipherSuites: String = TLSContext.tls13CipherSuites,
            tls12CipherList: String = TLSContext.tls12CipherList
        ) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.minimumVersion = minimumVersion
            self.maximumVersion = maximumVersion
            self.tls13CipherSuites = tls13CipherSuites
            self.tls12CipherList = tls12CipherList
        }
    }

    /// A client context (tests drive the server engine with it, socket-free). The server's
    /// chain is verified against `caFile`; its name is not checked here.
    public static func client(_ options: ClientOptions) throws(CryptoError) -> TLSContext {
        ERR_clear_error()
        guard let method = TLS_client_method(), let pointer = SSL_CTX_new(method) else {
            throw CryptoError.openSSL(.tlsConfiguration, "SSL_CTX_new")
        }
        let context = TLSContext(pointer: pointer, verifiesClients: false, isServer: false)
        guard bastion_SSL_CTX_set_min_proto_version(pointer, options.minimumVersion.openSSLValue) == 1,
            bastion_SSL_CTX_set_max_proto_version(pointer, options.maximumVersion.openSSLValue) == 1,
            SSL_CTX_set_ciphersuites(pointer, options.tls13CipherSuites) == 1,
            SSL_CTX_set_cipher_list(pointer, options.tls12CipherList) == 1
        else {
            throw CryptoError.openSSL(.tlsConfiguration, "client versions or cipher suites")
        }
        try readable(options.caFile, "CA")
        guard SSL_CTX_load_verify_file(pointer, options.caFile) == 1 else {
            throw CryptoError.openSSL(.tlsConfiguration, "CA \(options.caFile): no PEM certificate in it")
        }
        SSL_CTX_set_verify(pointer, SSL_VERIFY_PEER, nil)
        if let certificate = options.certificateFile, let key = options.keyFile {
            guard SSL_CTX_use_certificate_chain_file(pointer, certificate) == 1,
                SSL_CTX_use_PrivateKey_file(pointer, key, SSL_FILETYPE_PEM) == 1
            else {
                throw CryptoError.openSSL(.tlsConfiguration, "client certificate \(certificate) or key \(key)")
            }
        }
        ERR_clear_error()
        return context
    }

    /// Versions 1.3 (and 1.2 when `minimumVersion` says so) and the AEAD suites above.
    private func restrictProtocol(minimumVersion: TLSProtocolVersion) throws(CryptoError) {
        guard bastion_SSL_CTX_set_min_proto_version(pointer, minimumVersion.openSSLValue) == 1,
            bastion_SSL_CTX_set_max_proto_version(pointer, TLS1_3_VERSION) == 1
        else {
            throw CryptoError.openSSL(.tlsConfiguration, "protocol versions")
        }
        guard SSL_CTX_set_ciphersuites(pointer, Self.tls13CipherSuites) == 1 else {
            throw CryptoError.openSSL(.tlsConfiguration, "TLS 1.3 cipher suites")
        }
        guard SSL_CTX_set_cipher_list(pointer, Self.tls12CipherList) == 1 else {
            throw CryptoError.openSSL(.tlsConfiguration, "TLS 1.2 cipher suites")
        }
        guard bastion_SSL_CTX_set1_groups_list(pointer, Self.groups) == 1 else {
            throw CryptoError.openSSL(.tlsConfiguration, "key exchange groups")
        }
    }

    /// OpenSSL's own words for a missing file are "system library"; say what an operator
    /// can act on.
    private static func readable(_ path: String, _ what: String) throws(CryptoError) {
        guard access(path, F_OK) == 0 else { throw CryptoError(.tlsConfiguration, "\(what) \(path): no such file") }
        guard access(path, R_OK) == 0 else { throw CryptoError(.tlsConfiguration, "\(what) \(path): not readable") }
    }
}
