import Foundation

/// A throwaway PKI for TLS tests, made with the `openssl` CLI at test time (P-256, two days):
/// a CA, a server certificate for `localhost` and `127.0.0.1` signed by it, a client
/// certificate signed by it, and an unrelated CA that must never be trusted for the server.
///
/// Made by the CLI, not by our own code, so the TLS code under test never checks
/// certificates it produced itself.
public struct TestCertificates: Sendable {
    public let caFile: String
    public let serverCertificateFile: String
    public let serverKeyFile: String
    public let clientCertificateFile: String
    public let clientKeyFile: String
    /// A CA that signed nothing the server presents: trusting it must fail verification.
    public let otherCAFile: String

    /// Writes the files into `directory`.
    public init(in directory: String) throws {
        func path(_ name: String) -> String { directory + "/" + name }
        caFile = path("ca.crt")
        serverCertificateFile = path("server.crt")
        serverKeyFile = path("server.key")
        clientCertificateFile = path("client.crt")
        clientKeyFile = path("client.key")
        otherCAFile = path("other-ca.crt")
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        let caExtensions = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
        try Self.openssl(["req", "-x509"] + curve + ["-days", "2", "-subj", "/CN=Bastion Test CA", "-keyout", path("ca.key"), "-out", caFile] + caExtensions)
        try Self.openssl(["req", "-x509"] + curve + ["-days", "2", "-subj", "/CN=Unrelated Test CA", "-keyout", path("other-ca.key"), "-out", otherCAFile] + caExtensions)
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n".write(toFile: path("server.ext"), atomically: true, encoding: .utf8)
        try "extendedKeyUsage=clientAuth\n".write(toFile: path("client.ext"), atomically: true, encoding: .utf8)
        for (name, subject) in [("server", "/CN=localhost"), ("client", "/CN=bastion-client.example")] {
            try Self.openssl(["req"] + curve + ["-subj", subject, "-keyout", path("\(name).key"), "-out", path("\(name).csr")])
            try Self.openssl([
                "x509", "-req", "-in", path("\(name).csr"), "-CA", caFile, "-CAkey", path("ca.key"), "-CAcreateserial",
                "-days", "2", "-extfile", path("\(name).ext"), "-out", path("\(name).crt"),
            ])
        }
    }

    private static func openssl(_ arguments: [String]) throws {
        let result = try ProcessRunner.runBlocking("openssl", arguments, timeout: 20)
        guard result.status == 0 else { throw SSHDFixture.FixtureError("openssl \(arguments.prefix(2).joined(separator: " ")) failed: \(result)") }
    }
}
