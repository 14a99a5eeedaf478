import BastionApp
import BastionCore
import BastionTesting
import Foundation
import Testing

/// PROXY protocol v2 from trusted proxies only: stock ssh behind a small proxy (an ssh
/// `ProxyCommand` that opens the TCP connection and writes the header first, as HAProxy's
/// `send-proxy-v2` does). The two-node HAProxy example covers HAProxy itself.
@Suite("PROXY protocol")
struct ProxyProtocolTests {
    /// A ProxyCommand: connects to 127.0.0.1:PORT, writes a PROXY v2 header naming
    /// SRC:SPORT unless told not to, then relays stdin/stdout.
    static let proxyScript = """
        import os, socket, struct, sys, threading
        port, src, sport, header = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
        s = socket.create_connection(("127.0.0.1", port))
        if header:
            body = socket.inet_aton(src) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", sport, port)
            s.sendall(b"\\r\\n\\r\\n\\x00\\r\\nQUIT\\n" + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body)
        def up():
            while True:
                data = os.read(0, 65536)
                if not data:
                    s.shutdown(socket.SHUT_WR)
                    return
                s.sendall(data)
        threading.Thread(target=up, daemon=True).start()
        while True:
            data = s.recv(65536)
            if not data:
                break
            os.write(1, data)
        """

    /// `ssh … whoami` through the proxy script, claiming 203.0.113.9:5555 when `header`.
    static func whoamiThroughProxy(_ alice: Engineer, header: Bool) async throws -> ProcessRunner.Result {
        let script = alice.harness.directory.file("proxy-command.py")
        if !FileManager.default.fileExists(atPath: script) { try proxyScript.write(toFile: script, atomically: true, encoding: .utf8) }
        let command = "python3 \(script) \(alice.harness.endpoints.sshPort) 203.0.113.9 5555 \(header ? 1 : 0)"
        return try await alice.ssh(["whoami"], answer: .none, useCertificate: true, options: ["-o", "ProxyCommand=\(command)"])
    }

    static func connectionAddresses(_ bastion: BastionHarness, _ type: String) throws -> [String] {
        try bastion.auditRecords(type).compactMap { ($0["connection"] as? [String: Any])?["remoteAddress"] as? String }
    }

    @Test("from a trusted proxy, the header's address is the client's in audit records; no header, no login")
    func trustedProxy() async throws {
        try await withBastion(configure: { $0.ssh.trustedProxies = try? CIDRList("127.0.0.1/32") }) { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate(proxyHeader: true)
            let result = try await Self.whoamiThroughProxy(alice, header: true)
            #expect(result.status == 0, "\(result)")
            #expect(try Self.connectionAddresses(bastion, "auth.login").allSatisfy { $0 == "203.0.113.9" })
            #expect(try Self.connectionAddresses(bastion, "auth.login").count == 2)
            let direct = try await alice.ssh(["whoami"], answer: .none, useCertificate: true)
            #expect(direct.status == 255, "\(direct)")
            let refusals = try bastion.auditRecords("ssh.proxy_refused").compactMap { $0["reason"] as? String }
            #expect(refusals.contains { $0.contains("from trusted proxy 127.0.0.1: no PROXY v2 signature") }, "\(refusals)")
        }
    }

    @Test("from anyone else a PROXY header is refused and audited: a client cannot choose its address")
    func untrustedSource() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            let plain = try await Self.whoamiThroughProxy(alice, header: false)
            #expect(plain.status == 0, "\(plain)")
            let spoofed = try await Self.whoamiThroughProxy(alice, header: true)
            #expect(spoofed.status == 255, "\(spoofed)")
            let refusals = try bastion.auditRecords("ssh.proxy_refused").compactMap { $0["reason"] as? String }
            #expect(refusals == ["PROXY header from 127.0.0.1, which is not in ssh.trusted_proxies"], "\(refusals)")
            #expect(try !Self.connectionAddresses(bastion, "auth.login").contains("203.0.113.9"))
            // A header is a protocol error here (malformed:30s): the source is now refused.
            #expect(try await relayPoll(timeout: 5) { try bastion.auditRecords("ssh.penalty").count == 1 })
        }
    }
}

extension Engineer {
    /// `cert` through the PROXY test script (the bastion trusts only proxies).
    func fetchCertificate(proxyHeader: Bool) async throws {
        let script = harness.directory.file("proxy-command.py")
        try ProxyProtocolTests.proxyScript.write(toFile: script, atomically: true, encoding: .utf8)
        let command = "python3 \(script) \(harness.endpoints.sshPort) 203.0.113.9 5555 \(proxyHeader ? 1 : 0)"
        let result = try await ssh(["cert"], options: ["-o", "ProxyCommand=\(command)"])
        try #require(result.status == 0, "\(result)")
        try result.stdout.write(toFile: certificatePath, atomically: true, encoding: .utf8)
    }
}
