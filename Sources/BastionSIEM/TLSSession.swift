internal import COpenSSL
#if canImport(Glibc)
import Glibc
#endif

/// A TLS client session over a connected ``TCPSocket`` through the system OpenSSL 3 (libssl),
/// the same library and provider as the rest of Bastion's cryptography, so one FIPS
/// configuration covers it.
///
/// TLS 1.2 or later, the receiver's chain verified against the configured CA file only (not
/// the system store: a SIEM is the organisation's own), its name checked against the host
/// (DNS name or IP address, RFC 6125 rules as OpenSSL implements them), an optional client
/// certificate. Owned by one thread; not `Sendable`.
final class TLSSession {
    private let context: OpaquePointer
    private let connection: OpaquePointer
    let socket: TCPSocket

    private init(context: OpaquePointer, connection: OpaquePointer, socket: TCPSocket) {
        self.context = context
        self.connection = connection
        self.socket = socket
    }

    deinit {
        SSL_free(connection)
        SSL_CTX_free(context)
    }

    /// Runs the handshake; blocks at most `timeout` waiting for the receiver.
    static func handshake(over socket: TCPSocket, configuration: TLSClientConfiguration, timeout: Duration) throws(SIEMError) -> TLSSession {
        ERR_clear_error()
        let context = try makeContext(configuration)
        guard let connection = SSL_new(context) else {
            SSL_CTX_free(context)
            throw SIEMError(.tlsHandshakeFailed, "TLS with \(socket.endpoint): \(drainErrors() ?? "SSL_new failed")")
        }
        let session = TLSSession(context: context, connection: connection, socket: socket)
        let name = configuration.serverName ?? socket.endpoint.host
        // SSL_set1_host takes an IP address literal as such (OpenSSL 3) and a DNS name otherwise.
        guard SSL_set1_host(connection, name) == 1 else {
            throw SIEMError(.invalidConfiguration, "TLS with \(socket.endpoint): cannot check name \"\(name)\"")
        }
        if !CEFFormatter.isIPAddress(name) {
            // SSL_set_tlsext_host_name is a macro over SSL_ctrl; SNI names a host, never an address.
            _ = name.withCString { SSL_ctrl(connection, SSL_CTRL_SET_TLSEXT_HOSTNAME, Int(TLSEXT_NAMETYPE_host_name), UnsafeMutableRawPointer(mutating: $0)) }
        }
        SSL_set_fd(connection, socket.descriptor)
        socket.setReceiveTimeout(timeout)
        defer { socket.setReceiveTimeout(nil) }
        let result = withSIGPIPEBlocked { SSL_connect(connection) }
        guard result == 1 else {
            throw SIEMError(.tlsHandshakeFailed, "TLS handshake with \(socket.endpoint) failed: \(session.failureReason(result, during: "handshake"))")
        }
        return session
    }

    private static func makeContext(_ configuration: TLSClientConfiguration) throws(SIEMError) -> OpaquePointer {
        guard let method = TLS_client_method(), let context = SSL_CTX_new(method) else {
            throw SIEMError(.tlsHandshakeFailed, "TLS unavailable: \(drainErrors() ?? "SSL_CTX_new failed")")
        }
        // SSL_CTX_set_min_proto_version is a macro over SSL_CTX_ctrl.
        _ = SSL_CTX_ctrl(context, SSL_CTRL_SET_MIN_PROTO_VERSION, Int(TLS1_2_VERSION), nil)
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        guard SSL_CTX_load_verify_file(context, configuration.caFile) == 1 else {
            SSL_CTX_free(context)
            throw SIEMError(.invalidConfiguration, "ca_file \(configuration.caFile): \(drainErrors() ?? "cannot load")")
        }
        if let certificate = configuration.certificateFile {
            guard let key = configuration.privateKeyFile else {
                SSL_CTX_free(context)
                throw SIEMError(.invalidConfiguration, "client certificate \(certificate) given without its private key")
            }
            guard SSL_CTX_use_certificate_chain_file(context, certificate) == 1 else {
                SSL_CTX_free(context)
                throw SIEMError(.invalidConfiguration, "client certificate \(certificate): \(drainErrors() ?? "cannot load")")
            }
            guard SSL_CTX_use_PrivateKey_file(context, key, SSL_FILETYPE_PEM) == 1, SSL_CTX_check_private_key(context) == 1 else {
                SSL_CTX_free(context)
                throw SIEMError(.invalidConfiguration, "client key \(key): \(drainErrors() ?? "does not match the certificate")")
            }
        }
        return context
    }

    /// Writes all of `bytes` as TLS application data.
    func write(_ bytes: [UInt8]) throws(SIEMError) {
        ERR_clear_error()
        var offset = 0
        while offset < bytes.count {
            var written = 0
            let result = withSIGPIPEBlocked {
                bytes.withUnsafeBytes { buffer in
                    SSL_write_ex(connection, buffer.baseAddress! + offset, buffer.count - offset, &written)
                }
            }
            guard result == 1 else {
                throw SIEMError(.sendFailed, "send to \(socket.endpoint) failed: \(failureReason(result, during: "send"))")
            }
            offset += written
        }
    }

    /// Whether the receiver has closed the session (close_notify, an alert, EOF), without
    /// blocking. A TLS 1.3 server sends session tickets after the handshake, so readable bytes
    /// alone mean nothing: they are read as TLS records, and only a closure counts.
    var peerHasClosed: Bool {
        guard socket.hasPendingInput || socket.peerHasClosed else { return false }
        ERR_clear_error()
        socket.setNonBlocking(true)
        defer { socket.setNonBlocking(false) }
        var scratch = [UInt8](repeating: 0, count: 4096)
        while true {
            var read = 0
            let result = withSIGPIPEBlocked { SSL_read_ex(connection, &scratch, scratch.count, &read) }
            if result == 1 { continue }  // application data from a syslog receiver: ignored
            let error = SSL_get_error(connection, result)
            ERR_clear_error()
            return !(error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE)
        }
    }

    /// Sends close_notify (RFC 5425 §5.4), then half-closes and drains the socket.
    func close(timeout: Duration) {
        socket.setReceiveTimeout(timeout)
        _ = withSIGPIPEBlocked { SSL_shutdown(connection) }
        ERR_clear_error()
        socket.shutdownAndDrain(timeout: timeout)
    }

    /// The reason an SSL call failed, in the words an operator can act on.
    private func failureReason(_ result: Int32, during step: String) -> String {
        let verification = SSL_get_verify_result(connection)
        if verification != X509_V_OK {
            ERR_clear_error()
            return "certificate verify failed: " + String(cString: X509_verify_cert_error_string(verification))
        }
        let error = SSL_get_error(connection, result)
        let queued = Self.drainErrors()
        switch error {
        case SSL_ERROR_ZERO_RETURN: return "the receiver closed the TLS session"
        case SSL_ERROR_SYSCALL:
            if let queued { return queued }
            if errno == EAGAIN || errno == EWOULDBLOCK { return "\(step) timed out" }
            return errno == 0 ? "the receiver closed the connection during the \(step)" : String(cString: strerror(errno))
        default: return queued ?? "TLS error \(error)"
        }
    }

    /// OpenSSL's thread-local error queue as text, emptied so no later failure reports it.
    static func drainErrors() -> String? {
        var reasons: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            if let reason = ERR_reason_error_string(code) {
                reasons.append(String(cString: reason))
            } else {
                var buffer = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &buffer, buffer.count)
                reasons.append(buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
            }
        }
        return reasons.isEmpty ? nil : reasons.joined(separator: "; ")
    }
}

/// Runs `body` with SIGPIPE blocked on this thread and swallows a SIGPIPE it raised.
///
/// OpenSSL writes to the socket with `write(2)`, which raises SIGPIPE on a closed connection
/// and would kill the process unless SIGPIPE is ignored process-wide. A library must not
/// change process-wide dispositions, so it blocks the signal on its own thread for the call,
/// takes a pending SIGPIPE off with `sigtimedwait`, and restores the mask.
func withSIGPIPEBlocked<T>(_ body: () throws -> T) rethrows -> T {
    var pipeOnly = sigset_t()
    sigemptyset(&pipeOnly)
    sigaddset(&pipeOnly, SIGPIPE)
    var previous = sigset_t()
    pthread_sigmask(SIG_BLOCK, &pipeOnly, &previous)
    defer {
        var pending = sigset_t()
        sigpending(&pending)
        if sigismember(&pending, SIGPIPE) == 1, sigismember(&previous, SIGPIPE) == 0 {
            var immediately = timespec(tv_sec: 0, tv_nsec: 0)
            _ = sigtimedwait(&pipeOnly, nil, &immediately)
        }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }
    return try body()
}

extension TCPSocket {
    /// Blocks reads for at most `timeout` (nil: no limit).
    func setReceiveTimeout(_ timeout: Duration?) {
        var limit = timeout.map { timeval($0) } ?? timeval(tv_sec: 0, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
    }

    func setNonBlocking(_ on: Bool) {
        let flags = fcntl(descriptor, F_GETFL)
        _ = fcntl(descriptor, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK)
    }
}
