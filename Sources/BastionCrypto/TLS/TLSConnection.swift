internal import COpenSSL

/// One TLS connection over memory BIOs: no socket. The owner feeds the peer's bytes in with
/// ``receive(_:)``, drives ``handshake()`` and ``read(into:)``, hands plaintext to
/// ``write(_:)``, and after every call sends what ``takeCiphertext(into:)`` yields
/// (handshake messages and alerts as well as records).
///
/// Owned by one thread (a NIO event loop); not `Sendable`. OpenSSL's error queue is
/// thread-local, so each call clears it first and drains it into any error it reports.
public final class TLSConnection {
    public enum HandshakeState: Equatable {
        case inProgress
        case complete
        case failed(CryptoError)
    }

    public enum ReadResult: Equatable {
        /// This many bytes of plaintext were written to the buffer.
        case read(Int)
        /// No whole record yet: feed more input.
        case needsInput
        /// The peer sent close_notify.
        case closed
        case failed(CryptoError)
    }

    private let context: TLSContext
    private let ssl: OpaquePointer
    /// Owned by `ssl` (SSL_set_bio), freed with it.
    private let incoming: OpaquePointer
    private let outgoing: OpaquePointer
    public private(set) var isHandshakeComplete = false
    /// Set once, when the handshake completes; see ``peerIdentity``.
    private var verifiedPeer: TLSPeerIdentity?

    public init(context: TLSContext) throws(CryptoError) {
        ERR_clear_error()
        guard let ssl = SSL_new(context.pointer) else { throw CryptoError.openSSL(.tlsConfiguration, "SSL_new") }
        guard let incoming = BIO_new(BIO_s_mem()), let outgoing = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw CryptoError.openSSL(.tlsConfiguration, "BIO_new")
        }
        SSL_set_bio(ssl, incoming, outgoing)
        if context.isServer { SSL_set_accept_state(ssl) } else { SSL_set_connect_state(ssl) }
        self.context = context
        self.ssl = ssl
        self.incoming = incoming
        self.outgoing = outgoing
    }

    deinit {
        SSL_free(ssl)
    }

    /// Queues bytes received from the peer.
    public func receive(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        // A memory BIO grows as needed; the write fails only when memory does.
        _ = BIO_write(incoming, base, Int32(bytes.count))
    }

    public func receive(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { receive($0) }
    }

    /// Advances the handshake with what has been received. Once complete, stays complete.
    public func handshake() -> HandshakeState {
        if isHandshakeComplete { return .complete }
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            isHandshakeComplete = true
            verifiedPeer = readVerifiedPeer()
            return .complete
        }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return .inProgress
        default:
            return .failed(failure(.tlsHandshakeFailed, "TLS handshake"))
        }
    }

    /// Decrypts the next record's plaintext into `buffer`.
    public func read(into buffer: UnsafeMutableRawBufferPointer) -> ReadResult {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return .read(0) }
        ERR_clear_error()
        var count = 0
        let result = SSL_read_ex(ssl, base, buffer.count, &count)
        if result == 1 { return .read(count) }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: return .needsInput
        case SSL_ERROR_ZERO_RETURN: return .closed
        default: return .failed(failure(.tlsFailed, "TLS read"))
        }
    }

    /// Encrypts all of `bytes` into records (a memory BIO never pushes back).
    public func write(_ bytes: UnsafeRawBufferPointer) throws(CryptoError) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        ERR_clear_error()
        var offset = 0
        while offset < bytes.count {
            var written = 0
            guard SSL_write_ex(ssl, base + offset, bytes.count - offset, &written) == 1 else {
                throw failure(.tlsFailed, "TLS write")
            }
            offset += written
        }
    }

    public func write(_ bytes: [UInt8]) throws(CryptoError) {
        let failure = bytes.withUnsafeBytes { buffer -> CryptoError? in
            do throws(CryptoError) { try write(buffer) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }

    /// Queues close_notify (RFC 8446 §6.1); send it with ``takeCiphertext(into:)``.
    public func shutdown() {
        ERR_clear_error()
        if isHandshakeComplete { _ = SSL_shutdown(ssl) }
        ERR_clear_error()
    }

    /// Bytes waiting to be sent to the peer.
    public var pendingCiphertext: Int { Int(BIO_ctrl_pending(outgoing)) }

    /// Moves up to `buffer.count` pending bytes into `buffer`; returns how many.
    public func takeCiphertext(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let base = buffer.baseAddress, !buffer.isEmpty, pendingCiphertext > 0 else { return 0 }
        let count = BIO_read(outgoing, base, Int32(min(buffer.count, Int(Int32.max))))
        return max(0, Int(count))
    }

    /// Everything pending, as an array (tests).
    public func takeCiphertext() -> [UInt8] {
        let count = pendingCiphertext
        guard count > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        let taken = bytes.withUnsafeMutableBytes { takeCiphertext(into: $0) }
        return Array(bytes.prefix(taken))
    }

    /// The client certificate's names, when this is a server that verifies clients and the
    /// peer presented a certificate that verified against the CA in this handshake; nil
    /// otherwise (none asked for, none presented, or the handshake is not complete).
    public var peerIdentity: TLSPeerIdentity? { verifiedPeer }

    /// `TLSv1.3`, `TLSv1.2`: the version negotiated.
    public var negotiatedVersion: String { String(cString: SSL_get_version(ssl)) }

    /// The cipher suite negotiated (IANA name), once the handshake is complete.
    public var negotiatedCipherSuite: String? {
        guard let cipher = SSL_get_current_cipher(ssl), let name = SSL_CIPHER_standard_name(cipher) else { return nil }
        return String(cString: name)
    }

    /// Read once at the end of the handshake: renegotiation is off and resumption too, so
    /// the peer's certificate cannot change afterwards.
    private func readVerifiedPeer() -> TLSPeerIdentity? {
        // Without client_ca no certificate is asked for, and the verify result of "nothing
        // to verify" is X509_V_OK: only a verifying server reports an identity.
        guard context.isServer, context.verifiesClients, let certificate = SSL_get0_peer_certificate(ssl),
            SSL_get_verify_result(ssl) == X509_V_OK
        else { return nil }
        return TLSPeerIdentity(commonNames: Self.commonNames(of: certificate), dnsNames: Self.dnsNames(of: certificate))
    }

    private static func commonNames(of certificate: OpaquePointer) -> [String] {
        guard let subject = X509_get_subject_name(certificate) else { return [] }
        var names: [String] = []
        var index: Int32 = -1
        while true {
            index = X509_NAME_get_index_by_NID(subject, NID_commonName, index)
            guard index >= 0 else { break }
            guard let entry = X509_NAME_get_entry(subject, index), let data = X509_NAME_ENTRY_get_data(entry) else { continue }
            var utf8: UnsafeMutablePointer<UInt8>?
            let length = ASN1_STRING_to_UTF8(&utf8, data)
            guard length >= 0, let utf8 else { continue }
            defer { CRYPTO_free(utf8, nil, 0) }
            if let name = text(UnsafeBufferPointer(start: utf8, count: Int(length))) { names.append(name) }
        }
        return names
    }

    private static func dnsNames(of certificate: OpaquePointer) -> [String] {
        guard let raw = X509_get_ext_d2i(certificate, NID_subject_alt_name, nil, nil) else { return [] }
        let names = OpaquePointer(raw)
        defer { bastion_general_names_free(names) }
        var result: [String] = []
        for index in 0..<bastion_general_names_count(names) {
            guard let dns = bastion_general_name_dns(names, index), let data = ASN1_STRING_get0_data(dns) else { continue }
            if let name = text(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(dns)))) { result.append(name) }
        }
        return result
    }

    /// A name as text; none when it hides a NUL (the classic `good.example\0.evil` trick)
    /// or is not UTF-8.
    private static func text(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        guard !bytes.isEmpty, !bytes.contains(0) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    /// The error of a failed call, with the certificate's verify result when that was it.
    private func failure(_ code: CryptoError.Code, _ what: String) -> CryptoError {
        let verification = SSL_get_verify_result(ssl)
        if verification != X509_V_OK, let reason = X509_verify_cert_error_string(verification) {
            ERR_clear_error()
            return CryptoError(code, "\(what): certificate verify failed: \(String(cString: reason))")
        }
        return CryptoError.openSSL(code, what)
    }
}
