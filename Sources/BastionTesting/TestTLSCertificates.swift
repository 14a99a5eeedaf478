import Foundation

/// Certificates for TLS tests, made with the `openssl` CLI in a temporary directory: a CA,
/// a server certificate for `localhost`/`127.0.0.1` signed by it, and client certificates
/// on demand (signed by this CA or by a second, untrusted one).
public struct TestTLSCertificates: Sendable {
    public let directory: TemporaryDirectory
    /// The CA's certificate (trust anchor for curl, s_client, browsers and `client_ca`).
    public var caFile: String { directory.file("ca.pem") }
    public var serverCertificateFile: String { directory.file("server.pem") }
    public var serverKeyFile: String { directory.file("server.key") }

    /// Makes the CA and the server certificate (ECDSA P-256, or RSA 2048 with `rsa`).
    public static func make(rsa: Bool = false) async throws -> TestTLSCertificates {
        let certificates = TestTLSCertificates(directory: try TemporaryDirectory(prefix: "bastion-tls"))
        try await certificates.makeCA(name: "ca", subject: "/CN=Bastion Test CA")
        try await certificates.makeCA(name: "rogue-ca", subject: "/CN=Rogue CA")
        try await certificates.issue(
            name: "server", subject: "/CN=localhost", extensions: "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth",
            rsa: rsa
        )
        return certificates
    }

    /// A client certificate: subject `/CN=commonName`, DNS SANs `dnsNames`, signed by the
    /// test CA (or the rogue one). Returns the certificate and key paths.
    public func client(
        _ name: String, commonName: String, dnsNames: [String] = [], signedByRogue: Bool = false
    ) async throws -> (certificate: String, key: String) {
        var extensions = "extendedKeyUsage=clientAuth"
        if !dnsNames.isEmpty { extensions += "\nsubjectAltName=" + dnsNames.map { "DNS:\($0)" }.joined(separator: ",") }
        try await issue(name: name, subject: "/CN=\(commonName)", extensions: extensions, issuer: signedByRogue ? "rogue-ca" : "ca")
        return (directory.file(name + ".pem"), directory.file(name + ".key"))
    }

    /// Another server certificate (a renewal) for `localhost`, subject `/CN=commonName`.
    public func server(_ name: String, commonName: String) async throws -> (certificate: String, key: String) {
        try await issue(
            name: name, subject: "/CN=\(commonName)", extensions: "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth"
        )
        return (directory.file(name + ".pem"), directory.file(name + ".key"))
    }

    private func makeCA(name: String, subject: String) async throws {
        try await openssl([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", subject, "-keyout", directory.file(name + ".key"), "-out", directory.file(name + ".pem"),
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
    }

    private func issue(name: String, subject: String, extensions: String, issuer: String = "ca", rsa: Bool = false) async throws {
        let key = directory.file(name + ".key"), request = directory.file(name + ".csr"), extensionFile = directory.file(name + ".ext")
        try (extensions + "\n").write(toFile: extensionFile, atomically: true, encoding: .utf8)
        try await openssl(
            ["req", "-new", "-newkey"] + (rsa ? ["rsa:2048"] : ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"])
                + ["-nodes", "-subj", subject, "-keyout", key, "-out", request]
        )
        try await openssl([
            "x509", "-req", "-in", request, "-CA", directory.file(issuer + ".pem"), "-CAkey", directory.file(issuer + ".key"),
            "-CAcreateserial", "-days", "2", "-extfile", extensionFile, "-out", directory.file(name + ".pem"),
        ])
    }

    private func openssl(_ arguments: [String]) async throws {
        let result = try await ProcessRunner.run("openssl", arguments, timeout: 60)
        guard result.status == 0 else { throw TestTLSCertificatesError(description: "openssl \(arguments.first ?? ""): \(result)") }
    }
}

public struct TestTLSCertificatesError: Error, CustomStringConvertible {
    public var description: String
}
