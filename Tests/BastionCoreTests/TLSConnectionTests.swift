import BastionCrypto
import BastionTesting
import Foundation
import Testing

/// The TLS server engine with no socket: a client engine (same code, client context) and the
/// server engine pass their bytes to each other in memory. Certificates from the openssl CLI.
@Suite("TLS engine (OpenSSL over memory BIOs)")
struct TLSConnectionTests {
    /// Runs both handshakes to the end (or a failure) by shuttling bytes.
    static func handshake(client: TLSConnection, server: TLSConnection) -> (client: TLSConnection.HandshakeState, server: TLSConnection.HandshakeState) {
        var states: (client: TLSConnection.HandshakeState, server: TLSConnection.HandshakeState) = (.inProgress, .inProgress)
        for _ in 0..<20 {
            states.client = client.handshake()
            server.receive(client.takeCiphertext())
            states.server = server.handshake()
            client.receive(server.takeCiphertext())
            if case .failed = states.client { break }
            if case .failed = states.server {
                states.client = client.handshake()
                break
            }
            if states.client == .complete && states.server == .complete { break }
        }
        return states
    }

    static func pair(
        _ certificates: TestTLSCertificates, server minimum: TLSProtocolVersion = .tls13, clientCA: Bool = false, client options: TLSContext.ClientOptions? = nil
    ) throws -> (client: TLSConnection, server: TLSConnection) {
        let server = try TLSContext.server(
            certificateFile: certificates.serverCertificateFile, keyFile: certificates.serverKeyFile,
            clientCAFile: clientCA ? certificates.caFile : nil, minimumVersion: minimum
        )
        let client = try TLSContext.client(options ?? .init(caFile: certificates.caFile))
        return (try TLSConnection(context: client), try TLSConnection(context: server))
    }

    static func isFailure(_ state: TLSConnection.HandshakeState) -> Bool {
        if case .failed = state { return true }
        return false
    }

    @Test("TLS 1.3 with an AES-256 or ChaCha20 suite; data flows both ways")
    func tls13() async throws {
        let certificates = try await TestTLSCertificates.make()
        let (client, server) = try Self.pair(certificates)
        let states = Self.handshake(client: client, server: server)
        #expect(states.client == .complete && states.server == .complete)
        #expect(server.negotiatedVersion == "TLSv1.3")
        #expect(["TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"].contains(server.negotiatedCipherSuite ?? ""))
        try client.write(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        server.receive(client.takeCiphertext())
        var buffer = [UInt8](repeating: 0, count: 1024)
        let result = buffer.withUnsafeMutableBytes { server.read(into: $0) }
        #expect(result == .read(18))
        #expect(String(decoding: buffer.prefix(18), as: UTF8.self) == "GET / HTTP/1.1\r\n\r\n")
        // No client_ca: no identity, whatever happened.
        #expect(server.peerIdentity == nil)
    }

    @Test("TLS 1.2 is refused by default and accepted with tls_min 1.2, AES-256-GCM or ChaCha20 only")
    func tls12() async throws {
        let certificates = try await TestTLSCertificates.make()
        let only12 = TLSContext.ClientOptions(caFile: certificates.caFile, minimumVersion: .tls12, maximumVersion: .tls12)
        let (client, server) = try Self.pair(certificates, client: only12)
        let refused = Self.handshake(client: client, server: server)
        #expect(Self.isFailure(refused.server))

        let (client2, server2) = try Self.pair(certificates, server: .tls12, client: only12)
        let accepted = Self.handshake(client: client2, server: server2)
        #expect(accepted.server == .complete)
        #expect(server2.negotiatedVersion == "TLSv1.2")
        #expect(["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"].contains(server2.negotiatedCipherSuite ?? ""))

        // A 1.2 client offering only AES-128-GCM finds no common suite.
        let aes128 = TLSContext.ClientOptions(
            caFile: certificates.caFile, minimumVersion: .tls12, maximumVersion: .tls12, tls12CipherList: "ECDHE-ECDSA-AES128-GCM-SHA256"
        )
        let (client3, server3) = try Self.pair(certificates, server: .tls12, client: aes128)
        #expect(Self.isFailure(Self.handshake(client: client3, server: server3).server))
    }

    @Test("A TLS 1.3 client offering only TLS_AES_128_GCM_SHA256 is refused")
    func aes128Refused() async throws {
        let certificates = try await TestTLSCertificates.make()
        let options = TLSContext.ClientOptions(caFile: certificates.caFile, tls13CipherSuites: "TLS_AES_128_GCM_SHA256")
        let (client, server) = try Self.pair(certificates, client: options)
        let states = Self.handshake(client: client, server: server)
        #expect(Self.isFailure(states.server))
        #expect(server.peerIdentity == nil)
    }

    @Test("With client_ca: a verified client certificate's CN and DNS SANs; none is fine; a rogue CA's is refused")
    func clientCertificates() async throws {
        let certificates = try await TestTLSCertificates.make()
        let web = try await certificates.client("web01", commonName: "web01", dnsNames: ["web01.example", "web01"])
        var options = TLSContext.ClientOptions(caFile: certificates.caFile, certificateFile: web.certificate, keyFile: web.key)
        let (client, server) = try Self.pair(certificates, clientCA: true, client: options)
        #expect(Self.handshake(client: client, server: server).server == .complete)
        let identity = try #require(server.peerIdentity)
        #expect(identity.commonNames == ["web01"] && identity.dnsNames == ["web01.example", "web01"])
        #expect(identity.names("web01") && !identity.names("web02") && !identity.names(""))

        // None presented: the handshake succeeds (browsers), without an identity.
        let (bare, server2) = try Self.pair(certificates, clientCA: true)
        #expect(Self.handshake(client: bare, server: server2).server == .complete)
        #expect(server2.peerIdentity == nil)

        // One from another CA: the handshake fails.
        let rogue = try await certificates.client("rogue", commonName: "web01", signedByRogue: true)
        options = TLSContext.ClientOptions(caFile: certificates.caFile, certificateFile: rogue.certificate, keyFile: rogue.key)
        let (forger, server3) = try Self.pair(certificates, clientCA: true, client: options)
        #expect(Self.isFailure(Self.handshake(client: forger, server: server3).server))
        #expect(server3.peerIdentity == nil)
    }

    @Test("Without client_ca a presented certificate is never asked for, so no identity")
    func noClientCANoIdentity() async throws {
        let certificates = try await TestTLSCertificates.make()
        let web = try await certificates.client("web01", commonName: "web01")
        let options = TLSContext.ClientOptions(caFile: certificates.caFile, certificateFile: web.certificate, keyFile: web.key)
        let (client, server) = try Self.pair(certificates, clientCA: false, client: options)
        #expect(Self.handshake(client: client, server: server).server == .complete)
        #expect(server.peerIdentity == nil)
    }

    @Test("Bad files are refused naming the file and the reason")
    func badFiles() async throws {
        let certificates = try await TestTLSCertificates.make()
        let other = try await certificates.client("other", commonName: "other")
        #expect(throws: CryptoError.self) {
            try TLSContext.server(certificateFile: "/nonexistent.pem", keyFile: certificates.serverKeyFile)
        }
        do {
            _ = try TLSContext.server(certificateFile: certificates.serverCertificateFile, keyFile: other.key)
            Issue.record("a key of another certificate was accepted")
        } catch {
            #expect(error.reason.hasPrefix("private key \(other.key): does not match"))
        }
        do {
            _ = try TLSContext.server(certificateFile: certificates.serverKeyFile, keyFile: certificates.serverKeyFile)
            Issue.record("a key file was accepted as a certificate")
        } catch {
            #expect(error.reason.hasPrefix("certificate \(certificates.serverKeyFile)"))
        }
        do {
            _ = try TLSContext.server(certificateFile: "/nonexistent.pem", keyFile: certificates.serverKeyFile)
        } catch {
            #expect(error.reason == "certificate /nonexistent.pem: no such file")
        }
    }
}
