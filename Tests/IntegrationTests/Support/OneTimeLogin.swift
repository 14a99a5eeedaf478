import BastionTesting
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The stock `ssh` client's options and a TOTP answer for tests that drive a real bastiond:
/// the key, no known_hosts, a certificate or none, and `oathtool` behind `SSH_ASKPASS`.
enum OneTimeLogin {
    /// `ssh` options for `key` against 127.0.0.1:`port`; `certificate` nil offers the bare key
    /// (key + TOTP), a path offers that certificate.
    static func sshOptions(key: String, port: Int, certificate: String?) -> [String] {
        [
            "-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=10", "-o", "CertificateFile=\(certificate ?? "/dev/null")", "-p", String(port),
        ]
    }

    /// The environment that makes `ssh` answer the TOTP prompt with `oathtool`. `later` answers
    /// with the next step's code (the skew allows one step), so a second login in the same 30 s
    /// is not a replay.
    static func askpass(secret: String, in directory: TemporaryDirectory, later: Bool = false) throws -> [String: String] {
        let script = directory.file(later ? "askpass-later" : "askpass")
        let when = later ? " -N 'now + 30 seconds'" : ""
        try "#!/bin/sh\nexec oathtool --totp -b \(secret)\(when)\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o700)
        return ["SSH_ASKPASS": script, "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"]
    }

    /// `ssh … cert` with key + TOTP; writes the certificate beside the key and returns its path.
    static func certificate(key: String, port: Int, secret: String, in directory: TemporaryDirectory, later: Bool = false) async throws -> String {
        let cert = try await ProcessRunner.run(
            "ssh", sshOptions(key: key, port: port, certificate: nil) + ["alice@127.0.0.1", "cert"],
            environment: try askpass(secret: secret, in: directory, later: later)
        )
        guard cert.status == 0 else { throw HarnessError(message: "ssh … cert: \(cert)") }
        try cert.stdout.write(toFile: key + "-cert.pub", atomically: true, encoding: .utf8)
        return key + "-cert.pub"
    }
}
