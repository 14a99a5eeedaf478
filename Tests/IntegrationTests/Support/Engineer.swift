import BastionApp
import BastionCore
import BastionStore
import BastionTesting
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An engineer at a terminal: a key pair made by ssh-keygen, a TOTP secret (answered by
/// oathtool through SSH_ASKPASS) and the stock OpenSSH client.
struct Engineer {
    var name: String
    var keyPath: String
    var secret: String
    let harness: BastionHarness

    var certificatePath: String { keyPath + "-cert.pub" }

    static func makeKey(in directory: TemporaryDirectory, name: String, type: BastionHarness.KeyType) async throws -> String {
        let path = directory.file(name)
        let typeArguments: [String] = switch type {
        case .ed25519: ["-t", "ed25519"]
        case .ecdsa: ["-t", "ecdsa", "-b", "256"]
        case .rsa2048: ["-t", "rsa", "-b", "2048"]
        case .rsa3072: ["-t", "rsa", "-b", "3072"]
        }
        let result = try await ProcessRunner.run("ssh-keygen", ["-q", "-N", "", "-C", name, "-f", path] + typeArguments)
        guard result.status == 0 else { throw HarnessError(message: "ssh-keygen failed: \(result)") }
        return path
    }

    /// How the TOTP prompt is answered.
    enum Answer {
        /// The current code, computed by oathtool at prompt time.
        case currentCode
        /// A fixed string.
        case fixed(String)
        /// The prompt is not answered (askpass fails).
        case none
    }

    /// Runs `ssh -p PORT USER@127.0.0.1 COMMAND` with this engineer's key.
    /// - Parameters:
    ///   - user: the SSH username (defaults to the engineer's name).
    ///   - useCertificate: also offer the saved certificate (offered first, as OpenSSH does).
    func ssh(
        _ command: [String] = [], user: String? = nil, answer: Answer = .currentCode, useCertificate: Bool = false,
        keyPath: String? = nil, options: [String] = [], tty: Bool = false
    ) async throws -> ProcessRunner.Result {
        let askpass = try writeAskpass(answer)
        var arguments = clientOptions(keyPath: keyPath, useCertificate: useCertificate) + ["-p", String(harness.endpoints.sshPort)]
        if tty { arguments.append("-tt") }
        arguments += options
        arguments.append("\(user ?? name)@127.0.0.1")
        arguments += command
        return try await ProcessRunner.run(
            "ssh", arguments, environment: ["SSH_ASKPASS": askpass, "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"], timeout: 30
        )
    }

    /// The options every OpenSSH program (ssh, scp, sftp) gets: this engineer's key, no
    /// machine config, no known_hosts, and the saved certificate if asked.
    func clientOptions(keyPath: String? = nil, useCertificate: Bool) -> [String] {
        [
            "-F", "/dev/null", "-i", keyPath ?? self.keyPath, "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "NumberOfPasswordPrompts=1",
            "-o", "ConnectTimeout=10", "-o", useCertificate ? "CertificateFile=\(certificatePath)" : "CertificateFile=/dev/null",
        ]
    }

    /// `ssh … cert` with key + TOTP; saves the certificate next to the key, as the README tells engineers.
    @discardableResult
    func fetchCertificate(arguments: [String] = []) async throws -> SSHCertificate {
        let result = try await ssh(["cert"] + arguments)
        guard result.status == 0 else { throw HarnessError(message: "cert failed: \(result)") }
        try result.stdout.write(toFile: certificatePath, atomically: true, encoding: .utf8)
        return try SSHCertificate(authorizedKeysLine: result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Writes a script with O_CLOEXEC: a write descriptor inherited by a child started at the
    /// same moment on another thread (sshd, ssh, which live long) would make exec fail with
    /// ETXTBSY ("Text file busy").
    static func writeExecutable(_ path: String, _ contents: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o700)
        guard fd >= 0 else { throw HarnessError(message: "cannot create \(path)") }
        let bytes = Array(contents.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == bytes.count else { throw HarnessError(message: "cannot write \(path)") }
    }

    /// The current code, from oathtool (an independent TOTP implementation).
    func currentCode() async throws -> String {
        try await ProcessRunner.run("oathtool", ["--totp", "-b", secret, "--now", "@\(Int(harness.clock.now().timeIntervalSince1970))"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func writeAskpass(_ answer: Answer) throws -> String {
        let script: String
        switch answer {
        case .currentCode: script = "#!/bin/sh\nexec oathtool --totp -b \(secret) --now @\(Int(harness.clock.now().timeIntervalSince1970))\n"
        case .fixed(let text): script = "#!/bin/sh\necho '\(text)'\n"
        case .none: script = "#!/bin/sh\nexit 1\n"
        }
        let path = harness.directory.file("askpass-\(UUID().uuidString)")
        try Self.writeExecutable(path, script)
        return path
    }
}
