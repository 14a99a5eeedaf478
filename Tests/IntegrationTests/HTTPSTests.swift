import BastionApp
import BastionCore
import BastionCrypto
import BastionTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// TLS on the HTTP side (`http.tls_cert`, `tls_key`, `tls_min`, `client_ca`) against real
/// programs: `openssl s_client`, `curl --cacert`, headless Chromium, and the real
/// `bastiond serve` reloaded with SIGHUP. Certificates are made by the openssl CLI.
@Suite("HTTPS")
struct HTTPSTests {
    /// A target for the sudo-check API.
    static let target = """
        [targets.web01]
        address = "127.0.0.1:22"
        host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJG0CHKyK+L6cqs4WBIdUgegtNkBJFdy+kOJwvZqiB/Y"
        """

    static func withHTTPS(
        _ certificates: TestTLSCertificates, minimum: TLSProtocolVersion = .tls13, clientCA: Bool = false,
        _ body: (BastionHarness) async throws -> Void
    ) async throws {
        try await withBastion(extraConfig: target, configure: {
            $0.http.publicURL = "https://localhost"
            $0.http.tls = .init(
                certificate: certificates.serverCertificateFile, key: certificates.serverKeyFile, minimumVersion: minimum,
                clientCA: clientCA ? certificates.caFile : nil
            )
        }, body)
    }

    /// `openssl s_client` to the port with `arguments`; its exit status says whether the
    /// handshake completed (stdin is empty, so it leaves right after).
    static func sClient(_ port: Int, _ certificates: TestTLSCertificates, _ arguments: [String]) async throws -> ProcessRunner.Result {
        try await ProcessRunner.run(
            "openssl",
            ["s_client", "-connect", "127.0.0.1:\(port)", "-servername", "localhost", "-CAfile", certificates.caFile, "-verify_return_error", "-brief"]
                + arguments,
            input: Data(), timeout: 20
        )
    }

    /// `curl --cacert`: the status line's code and the body; `code` 0 when no HTTP exchange happened.
    static func curl(_ url: String, _ certificates: TestTLSCertificates, _ arguments: [String] = []) async throws -> (code: Int, body: String, result: ProcessRunner.Result) {
        let result = try await ProcessRunner.run(
            "curl", ["-s", "-S", "--cacert", certificates.caFile, "-o", "-", "-w", "\n%{http_code}"] + arguments + [url], timeout: 20
        )
        let code = Int(result.stdout.split(separator: "\n").last ?? "") ?? 0
        let body = result.stdout.split(separator: "\n").dropLast().joined(separator: "\n")
        return (code, body, result)
    }

    @Test("TLS 1.3 only by default: 1.3 with AES-256-GCM or ChaCha20 accepted, 1.2 and TLS_AES_128_GCM_SHA256 alone refused; curl --cacert gets /healthz")
    func defaults() async throws {
        let certificates = try await TestTLSCertificates.make()
        try await Self.withHTTPS(certificates) { harness in
            let port = harness.endpoints.httpPort
            let tls13 = try await Self.sClient(port, certificates, ["-tls1_3"])
            #expect(tls13.status == 0 && tls13.stderr.contains("Protocol version: TLSv1.3"), "\(tls13)")
            #expect(tls13.stderr.contains("Ciphersuite: TLS_AES_256_GCM_SHA384"), "\(tls13)")
            let chacha = try await Self.sClient(port, certificates, ["-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"])
            #expect(chacha.status == 0 && chacha.stderr.contains("Ciphersuite: TLS_CHACHA20_POLY1305_SHA256"), "\(chacha)")

            let tls12 = try await Self.sClient(port, certificates, ["-tls1_2"])
            #expect(tls12.status != 0, "TLS 1.2 accepted by default: \(tls12)")
            let aes128 = try await Self.sClient(port, certificates, ["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"])
            #expect(aes128.status != 0, "TLS_AES_128_GCM_SHA256 accepted: \(aes128)")

            let health = try await Self.curl("https://localhost:\(port)/healthz", certificates, ["--resolve", "localhost:\(port):127.0.0.1"])
            #expect(health.code == 200 && health.body.contains("ok"), "\(health.result)")
            // Plain HTTP to the TLS port gets no HTTP answer.
            let plain = try await Self.curl("http://127.0.0.1:\(port)/healthz", certificates, ["--max-time", "5"])
            #expect(plain.code != 200, "\(plain.result)")
        }
    }

    @Test("tls_min = 1.2: a 1.2 handshake with an AES-256-GCM suite works; AES-128 and TLS 1.1 still fail")
    func tls12OptIn() async throws {
        let certificates = try await TestTLSCertificates.make()
        try await Self.withHTTPS(certificates, minimum: .tls12) { harness in
            let port = harness.endpoints.httpPort
            let aes256 = try await Self.sClient(port, certificates, ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"])
            #expect(aes256.status == 0 && aes256.stderr.contains("Protocol version: TLSv1.2"), "\(aes256)")
            #expect(aes256.stderr.contains("Ciphersuite: ECDHE-ECDSA-AES256-GCM-SHA384"), "\(aes256)")
            let aes128 = try await Self.sClient(port, certificates, ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"])
            #expect(aes128.status != 0, "\(aes128)")
            let cbc = try await Self.sClient(port, certificates, ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-SHA384"])
            #expect(cbc.status != 0, "\(cbc)")
            // The client is made willing (security level 0), so only the server can refuse.
            let tls11 = try await Self.sClient(port, certificates, ["-tls1_1", "-cipher", "ALL:@SECLEVEL=0"])
            #expect(tls11.status != 0, "\(tls11)")
        }
    }

    @Test("client_ca: browsers need no certificate; the sudo check needs a verified one naming the target, never a header")
    func mutualTLS() async throws {
        let certificates = try await TestTLSCertificates.make()
        try await Self.withHTTPS(certificates, clientCA: true) { harness in
            let port = harness.endpoints.httpPort
            let target = try #require(harness.environment.configuration.policy.targets["web01"])
            let token = harness.environment.targetTokens.token(for: target)
            let url = "https://localhost:\(port)/api/v1/targets/web01/sudo"
            let common = ["--resolve", "localhost:\(port):127.0.0.1", "-X", "POST", "-H", "Authorization: Bearer \(token)",
                          "-H", "Content-Type: application/json", "-d", #"{"user":"nobody-here","command":"id"}"#]

            // No client certificate: /healthz as ever (people's browsers have none).
            let health = try await Self.curl("https://localhost:\(port)/healthz", certificates, ["--resolve", "localhost:\(port):127.0.0.1"])
            #expect(health.code == 200, "\(health.result)")

            // The right token without a certificate: 403, one line, audited.
            let bare = try await Self.curl(url, certificates, common)
            #expect(bare.code == 403 && bare.body.contains("a client certificate naming this target is required"), "\(bare.result)")

            // Headers a client (or a proxy it talks through) might send in the certificate's place.
            let forged = try await Self.curl(url, certificates, common + [
                "-H", "X-SSL-Client-CN: web01", "-H", "X-SSL-Client-Verify: SUCCESS", "-H", "X-Client-Cert: CN=web01",
                "-H", "X-Forwarded-Client-Cert: Subject=\"CN=web01\";DNS=web01", "-H", "SSL_CLIENT_S_DN_CN: web01",
            ])
            #expect(forged.code == 403, "a header stood in for the certificate: \(forged.result)")

            // Another target's certificate: 403.
            let other = try await certificates.client("web02", commonName: "web02", dnsNames: ["web02"])
            let wrong = try await Self.curl(url, certificates, common + ["--cert", other.certificate, "--key", other.key])
            #expect(wrong.code == 403, "\(wrong.result)")

            // A certificate naming web01 by CN, or by DNS SAN only: the check runs (200, a deny
            // about the unknown user, not a refusal).
            for (name, cn, dns) in [("web01", "web01", [String]()), ("web01-san", "host-17", ["web01.example", "web01"])] {
                let good = try await certificates.client(name, commonName: cn, dnsNames: dns)
                let answered = try await Self.curl(url, certificates, common + ["--cert", good.certificate, "--key", good.key])
                #expect(answered.code == 200 && answered.body.contains(#""decision":"deny""#), "\(name): \(answered.result)")
                #expect(answered.body.contains("no Bastion user"), "\(answered.result)")
            }

            // A certificate naming web01 from a CA not in client_ca: no handshake at all.
            let rogue = try await certificates.client("rogue", commonName: "web01", dnsNames: ["web01"], signedByRogue: true)
            let refused = try await Self.curl(url, certificates, common + ["--cert", rogue.certificate, "--key", rogue.key])
            #expect(refused.code == 0 && refused.result.status != 0, "\(refused.result)")

            // The shipped check (Config/target/bastion-sudo-check) with and without CERT_FILE.
            let good = try await certificates.client("web01-check", commonName: "web01")
            for withCertificate in [false, true] {
                let conf = harness.directory.file("sudo-check-\(withCertificate).conf")
                try """
                    BASTION_URL=https://localhost:\(port)
                    TARGET=web01
                    TOKEN=\(token)
                    WAIT=5
                    CA_FILE=\(certificates.caFile)
                    \(withCertificate ? "CERT_FILE=\(good.certificate)\nKEY_FILE=\(good.key)" : "")

                    """.write(toFile: conf, atomically: true, encoding: .utf8)
                let run = try await ProcessRunner.run(
                    "sh", [SudoCheckIntegrationTests.checkScript, conf],
                    environment: ["PAM_USER": "nobody-here", "CURL_HOME": harness.directory.path], timeout: 30
                )
                let said = run.stdout + run.stderr
                #expect(run.status == 1, "\(run)")
                if withCertificate {
                    #expect(said.contains("no Bastion user"), "\(run)")
                } else {
                    #expect(said.contains("requires this host's client certificate"), "\(run)")
                }
            }

            let reasons = try harness.auditRecords("elevation.refused").compactMap { $0["reason"] as? String }
            #expect(reasons.filter { $0 == "no client certificate" }.count == 3, "\(reasons)")
            #expect(reasons.contains("client certificate (CN=web02, DNS:web02) does not name the target"), "\(reasons)")
        }
    }

    @Test("the web view in headless Chromium over https: renders when the certificate is trusted, refused when not")
    func chromium() async throws {
        let certificates = try await TestTLSCertificates.make()
        // Chromium trusts the server's key by its SPKI hash (no NSS database to edit).
        let spki = try await ProcessRunner.run("sh", ["-c", """
            openssl x509 -in '\(certificates.serverCertificateFile)' -pubkey -noout | openssl pkey -pubin -outform der \
            | openssl dgst -sha256 -binary | base64
            """])
        let hash = spki.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(spki.status == 0 && !hash.isEmpty, "\(spki)")
        try await Self.withHTTPS(certificates) { harness in
            let port = harness.endpoints.httpPort
            let profile = harness.directory.file("chromium-profile")
            let url = "https://localhost:\(port)/signin"
            let resolve = "--host-resolver-rules=MAP localhost 127.0.0.1"
            let trusted = try await HeadlessBrowser.dom(url, arguments: [
                "--user-data-dir=\(profile)-trusted", "--ignore-certificate-errors-spki-list=\(hash)", resolve,
            ])
            // The sign-in help page, as WebViewTests sees it over plain HTTP.
            #expect(trusted.contains("you@localhost web"), "\(trusted.prefix(2000))")
            let untrusted = try? await HeadlessBrowser.dom(url, arguments: ["--user-data-dir=\(profile)-untrusted", resolve])
            #expect(!(untrusted ?? "").contains("you@localhost web"), "Chromium showed the page without trusting the certificate")
        }
    }

    @Test("the real bastiond: a bad certificate stops the start (exit 78, naming the key); SIGHUP reloads a renewed one and refuses a broken one, keeping the old")
    func reloadWithRealBastiond() async throws {
        let certificates = try await TestTLSCertificates.make()
        let directory = try TemporaryDirectory(prefix: "bastion-https")
        let config = directory.file("bastiond.toml")
        let served = directory.file("served.pem"), servedKey = directory.file("served.key")
        func write(missing: Bool = false) throws {
            let text = BastionHarness.configText(in: directory).replacingOccurrences(of: "[http]\nlisten = \"127.0.0.1:0\"", with: """
                [http]
                listen = "127.0.0.1:0"
                public_url = "https://localhost"
                tls_cert = "\(missing ? directory.file("absent.pem") : served)"
                tls_key = "\(servedKey)"
                """)
            try text.write(toFile: config, atomically: true, encoding: .utf8)
        }
        try FileManager.default.copyItem(atPath: certificates.serverCertificateFile, toPath: served)
        try FileManager.default.copyItem(atPath: certificates.serverKeyFile, toPath: servedKey)

        try write(missing: true)
        let refused = try await RelayDaemonProcess.run(["serve", "--config", config])
        #expect(refused.status == 78, "\(refused)")
        #expect(refused.stderr.contains("http.tls_cert: certificate \(directory.file("absent.pem")): no such file"), "\(refused)")

        try write()
        let daemon = try await RelayDaemonProcess(config: config, logPath: directory.file("bastiond.log"))
        defer { daemon.killNow() }
        let before = try await Self.sClient(daemon.httpPort, certificates, [])
        #expect(before.status == 0 && before.stderr.contains("Peer certificate: CN = localhost"), "\(before)")

        // Renewed: a new key and certificate under the same paths, then SIGHUP.
        let renewed = try await certificates.server("renewed", commonName: "renewed.localhost")
        try FileManager.default.removeItem(atPath: served)
        try FileManager.default.removeItem(atPath: servedKey)
        try FileManager.default.copyItem(atPath: renewed.certificate, toPath: served)
        try FileManager.default.copyItem(atPath: renewed.key, toPath: servedKey)
        daemon.process.signal(SIGHUP)
        let reloaded = try await relayPoll(timeout: 15, interval: .milliseconds(100)) { daemon.log.contains("configuration reloaded") }
        #expect(reloaded, "\(daemon.log)")
        let after = try await Self.sClient(daemon.httpPort, certificates, [])
        #expect(after.status == 0 && after.stderr.contains("Peer certificate: CN = renewed.localhost"), "\(after)")

        // Broken: the reload is refused naming the file; the renewed certificate stays.
        try "not a certificate\n".write(toFile: served, atomically: true, encoding: .utf8)
        daemon.process.signal(SIGHUP)
        let refusedReload = try await relayPoll(timeout: 15, interval: .milliseconds(100)) { daemon.log.contains("reload refused") }
        #expect(refusedReload && daemon.log.contains("http.tls_cert: certificate \(served)"), "\(daemon.log)")
        let still = try await Self.sClient(daemon.httpPort, certificates, [])
        #expect(still.status == 0 && still.stderr.contains("Peer certificate: CN = renewed.localhost"), "\(still)")
        try await daemon.signal(SIGTERM)
    }
}
