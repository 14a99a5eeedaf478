import BastionCore
import BastionSIEM
import BastionTesting
import Foundation
import Testing

/// Syslog sinks' building blocks against a real rsyslogd (plain TCP, RFC 5425 TLS, mutual TLS)
/// on loopback: what arrives is compared byte for byte with what was framed.
@Suite("Syslog delivery to a real rsyslog")
struct SyslogDeliveryTests {
    private static let encoder = try! SyslogEventEncoder(format: .json, hostname: "bastion01", procID: "4242")

    /// Events with multi-byte UTF-8 and characters every layer escapes, as messages.
    private static func messages(count: Int, encoder: SyslogEventEncoder = encoder) -> [[UInt8]] {
        (1...count).map { seq in
            var event = seq % 2 == 0 ? SIEMTestEvents.hostile : SIEMTestEvents.sessionStart
            event.details["n"] = "\(seq) zoë ✓ 日本 🔐"
            return encoder.message(for: event, id: EventID(installation: "bastion01", seq: Int64(seq))).bytes()
        }
    }

    private static func text(_ message: [UInt8]) -> String { String(decoding: message, as: UTF8.self) }

    /// Sends `messages` (several frames per write, then one per write) and closes.
    private static func deliver(_ messages: [[UInt8]], to endpoint: SyslogEndpoint, tls: TLSClientConfiguration? = nil) async throws {
        try await offPool {
            let sender = SyslogSender(endpoint: endpoint, tls: tls)
            try sender.connect()
            let half = messages.count / 2
            var batch: [UInt8] = []
            for message in messages[..<half] { OctetCounting.append(message, to: &batch) }
            try sender.send(batch)
            for message in messages[half...] { try sender.send(OctetCounting.frame(message)) }
            sender.close()
        }
    }

    private static func received(_ rsyslog: RsyslogFixture, count: Int) async throws -> [String] {
        // A maximum, not a wait: under a full parallel run rsyslog has taken more than 5 s to write.
        try await offPool { rsyslog.waitForMessages(count: count, timeout: 30) }
    }

    @Test("plain TCP: multi-byte UTF-8 arrives intact and framing stays in sync")
    func plainTCP() async throws {
        let rsyslog = try await RsyslogFixture.start()
        defer { rsyslog.stop() }
        let messages = Self.messages(count: 6)
        try await Self.deliver(messages, to: SyslogEndpoint(host: "127.0.0.1", port: rsyslog.plainPort))
        let received = try await Self.received(rsyslog, count: messages.count)
        #expect(received == messages.map(Self.text), "rsyslogd log: \(rsyslog.log)")
    }

    @Test("as root, rsyslogd runs as nobody (CI runs as root)")
    func unprivileged() async throws {
        // Without root there is no privilege to drop and nothing to check: fail, not pass.
        try #require(getuid() == 0, "run as root (CI runs `make test` as root): this test checks that rsyslogd drops root")
        let nobody = try #require(getpwnam("nobody"), "no user nobody to run rsyslogd as").pointee.pw_uid
        let rsyslog = try await RsyslogFixture.start()
        defer { rsyslog.stop() }
        let pid = try #require(rsyslog.processID)
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        #expect(status.contains("Name:\trsyslogd"), "\(status)")
        // Real, effective, saved and file-system uid alike.
        #expect(status.contains("Uid:\t\(nobody)\t\(nobody)\t\(nobody)\t\(nobody)\n"), "\(status)")
    }

    @Test("TLS with the test CA: by IP address and by host name")
    func tls() async throws {
        let rsyslog = try await RsyslogFixture.start()
        defer { rsyslog.stop() }
        let messages = Self.messages(count: 4)
        let tls = TLSClientConfiguration(caFile: rsyslog.certificates.caFile)
        try await Self.deliver(Array(messages[..<2]), to: SyslogEndpoint(host: "127.0.0.1", port: rsyslog.tlsPort), tls: tls)
        try await Self.deliver(Array(messages[2...]), to: SyslogEndpoint(host: "localhost", port: rsyslog.tlsPort), tls: tls)
        let received = try await Self.received(rsyslog, count: messages.count)
        #expect(received == messages.map(Self.text), "rsyslogd log: \(rsyslog.log)")
        // close_notify was sent: rsyslog has no "unexpected eof" to complain about.
        #expect(!rsyslog.log.contains("unexpected eof"), "rsyslogd log: \(rsyslog.log)")
    }

    @Test("mutual TLS: the client certificate is presented and accepted")
    func mutualTLS() async throws {
        let rsyslog = try await RsyslogFixture.start()
        defer { rsyslog.stop() }
        let messages = Self.messages(count: 2)
        let tls = TLSClientConfiguration(
            caFile: rsyslog.certificates.caFile, certificateFile: rsyslog.certificates.clientCertificateFile,
            privateKeyFile: rsyslog.certificates.clientKeyFile
        )
        try await Self.deliver(messages, to: SyslogEndpoint(host: "127.0.0.1", port: rsyslog.mutualTLSPort), tls: tls)
        let received = try await Self.received(rsyslog, count: messages.count)
        #expect(received == messages.map(Self.text), "rsyslogd log: \(rsyslog.log)")
    }

    @Test("a MSG with the UTF-8 BOM arrives with it")
    func byteOrderMark() async throws {
        let rsyslog = try await RsyslogFixture.start()
        defer { rsyslog.stop() }
        let encoder = try SyslogEventEncoder(format: .cef, hostname: "bastion01", procID: "1", byteOrderMark: true)
        let messages = Self.messages(count: 2, encoder: encoder)
        try await Self.deliver(messages, to: SyslogEndpoint(host: "127.0.0.1", port: rsyslog.plainPort))
        let received = try await Self.received(rsyslog, count: 2)
        #expect(received == messages.map(Self.text))
        #expect(received.first?.contains("] \u{FEFF}CEF:0|Bastion|") == true)
    }

    @Test("a CA that did not sign the receiver's certificate is refused, naming address and reason")
    func wrongCA() async throws {
        let rsyslog = try await RsyslogFixture.start()
        defer { rsyslog.stop() }
        let endpoint = SyslogEndpoint(host: "127.0.0.1", port: rsyslog.tlsPort)
        let error = try await Self.connectError(endpoint, tls: TLSClientConfiguration(caFile: rsyslog.certificates.otherCAFile))
        #expect(error.code == .tlsHandshakeFailed)
        #expect(error.detail.contains("127.0.0.1:\(rsyslog.tlsPort)"), "\(error)")
        // rsyslog sends its CA along with its certificate, so OpenSSL meets a self-signed
        // certificate it does not trust; without the CA in the chain it would say "unable to
        // get local issuer certificate".
        #expect(
            error.detail.contains("certificate verify failed: self-signed certificate in certificate chain")
                || error.detail.contains("certificate verify failed: unable to get local issuer certificate"),
            "\(error)"
        )
    }

    @Test("a certificate for another name is refused")
    func hostnameMismatch() async throws {
        let rsyslog = try await RsyslogFixture.start()
        defer { rsyslog.stop() }
        let endpoint = SyslogEndpoint(host: "127.0.0.1", port: rsyslog.tlsPort)
        let tls = TLSClientConfiguration(caFile: rsyslog.certificates.caFile, serverName: "siem.example")
        let error = try await Self.connectError(endpoint, tls: tls)
        #expect(error.code == .tlsHandshakeFailed)
        #expect(error.detail.contains("certificate verify failed: hostname mismatch"), "\(error)")
    }

    @Test("the receiver down: a connection error naming the address; after its restart, delivery resumes")
    func receiverDown() async throws {
        let rsyslog = try await RsyslogFixture.start()
        let endpoint = SyslogEndpoint(host: "127.0.0.1", port: rsyslog.plainPort)
        let messages = Self.messages(count: 2)
        // One connection open before the outage: its next send must fail, not vanish.
        let sender = try await offPool { () -> SendableBox<SyslogSender> in
            let sender = SyslogSender(endpoint: endpoint)
            try sender.connect()
            try sender.send(OctetCounting.frame(messages[0]))
            return SendableBox(sender)
        }
        #expect(try await Self.received(rsyslog, count: 1).count == 1)
        try await offPool { rsyslog.stop() }

        let refused = try await Self.connectError(endpoint, tls: nil)
        #expect(refused.code == .connectionFailed)
        #expect(refused.description == "connect to 127.0.0.1:\(rsyslog.plainPort) failed: Connection refused")
        let sendError = try await offPool { () -> SIEMError? in
            do throws(SIEMError) {
                try sender.value.send(OctetCounting.frame(messages[1]))
                return nil
            } catch { return error }
        }
        #expect(sendError?.code == .sendFailed, "a send after the receiver closed must fail: \(String(describing: sendError))")

        try await offPool { try rsyslog.start() }
        defer { rsyslog.stop() }
        try await offPool {
            try sender.value.connect()
            try sender.value.send(OctetCounting.frame(messages[1]))
            sender.value.close()
        }
        #expect(try await Self.received(rsyslog, count: 2) == messages.map(Self.text))
    }

    @Test("an unresolvable host is a connection error")
    func unresolvable() async throws {
        let error = try await Self.connectError(SyslogEndpoint(host: "siem.invalid", port: 6514), tls: nil)
        #expect(error.code == .connectionFailed)
        #expect(error.detail.hasPrefix("cannot resolve siem.invalid:6514: "), "\(error)")
    }

    @Test("send without a connection is refused")
    func notConnected() async throws {
        let error = try await offPool { () -> SIEMError? in
            do throws(SIEMError) {
                try SyslogSender(endpoint: SyslogEndpoint(host: "127.0.0.1", port: 9)).send([1])
                return nil
            } catch { return error }
        }
        #expect(error?.code == .notConnected)
    }

    private static func connectError(_ endpoint: SyslogEndpoint, tls: TLSClientConfiguration?) async throws -> SIEMError {
        let error = try await offPool { () -> SIEMError? in
            let sender = SyslogSender(endpoint: endpoint, tls: tls, connectTimeout: .seconds(3))
            do throws(SIEMError) {
                try sender.connect()
                return nil
            } catch { return error }
        }
        return try #require(error, "connect to \(endpoint) must fail")
    }
}

/// Moves a sender between the test's threads; only one uses it at a time (each step awaits
/// the previous one).
private final class SendableBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

