import BastionApp
import Foundation

/// bastiond as the system under test: a config on free loopback ports, alice enrolled with an
/// Ed25519 key and TOTP, the daemon started, and one certificate fetched the way an engineer
/// gets it (key + TOTP code, `cert` command).
struct BastiondTarget {
    let executable: String
    let scratch: ScratchDirectory
    /// Name in messages and prefix of its config and log files (`bastiond`, `bastiond-relay`).
    let name: String
    let sshPort: Int
    let configPath: String

    var dataDirectory: String { scratch.file("bastion-data") }
    /// Written by bastiond on first start (see `KeyMaterial`); sshd trusts it for the comparison.
    var userCAPublicKeyPath: String { dataDirectory + "/" + KeyMaterial.FileName.userAuthority + ".pub" }
    /// Signs the per-session certificates bastiond presents to targets; written with the other keys.
    var upstreamCAPublicKeyPath: String { dataDirectory + "/" + KeyMaterial.FileName.upstreamAuthority + ".pub" }

    /// Writes the configuration. The log level is `warning` because sshd runs at `LogLevel
    /// ERROR`: neither side writes a log line per login, both still write what goes wrong.
    /// Role `ops` (root on `web*`) is there for the relay benchmark; the login benchmark does
    /// not use it.
    static func configure(executable: String, scratch: ScratchDirectory) throws(BenchError) -> BastiondTarget {
        try configure(executable: executable, scratch: scratch, name: "bastiond", extra: "")
    }

    /// The same bastiond (same data directory, users and CAs) on new ports, relaying `web01`
    /// to `target` with recordings in `recordings`. Admission's defaults serve every benchmark
    /// client from 127.0.0.1: only unauthenticated connections are counted.
    func relaying(
        to target: OpenSSHTarget, recordings: String, name: String = "bastiond-relay", extra: String = "", encrypt: Bool = true
    ) throws(BenchError) -> BastiondTarget {
        try Self.configure(executable: executable, scratch: scratch, name: name, extra: extra + """
            [recording]
            dir = "\(recordings)"
            encrypt = \(encrypt)

            [targets.web01]
            address = "127.0.0.1:\(target.port)"
            host_key = "\(try target.hostKeyLine())"

            """)
    }

    /// The same bastiond (same data directory, so the same key files) as node `node` of several
    /// on the PostgreSQL database at `url`, on new ports.
    func onPostgres(url: String, node: String) throws(BenchError) -> BastiondTarget {
        try Self.configure(executable: executable, scratch: scratch, name: "bastiond-\(node)", extra: """
            [storage]
            url = "\(url)"
            node = "\(node)"

            """)
    }

    private static func configure(
        executable: String, scratch: ScratchDirectory, name: String, extra: String
    ) throws(BenchError) -> BastiondTarget {
        let sshPort = try LoopbackPort.free()
        var httpPort = try LoopbackPort.free()
        while httpPort == sshPort { httpPort = try LoopbackPort.free() }
        let configPath = try scratch.write("\(name).toml", """
            [server]
            data_dir = "\(scratch.file("bastion-data"))"

            [ssh]
            listen = "127.0.0.1:\(sshPort)"

            [http]
            listen = "127.0.0.1:\(httpPort)"
            public_url = "http://127.0.0.1:\(httpPort)"

            [log]
            level = "warning"

            [roles.engineer]
            targets = ["web*"]
            logins = ["deploy"]

            [roles.ops]
            targets = ["web*"]
            logins = ["root"]

            \(extra)
            """)
        return BastiondTarget(executable: executable, scratch: scratch, name: name, sshPort: sshPort, configPath: configPath)
    }

    /// `bastiond user add alice`; returns the Base32 TOTP secret from the otpauth URI it prints.
    func enroll(user: String, publicKey: String) throws(BenchError) -> String {
        let output = try ProcessLauncher.output(
            [executable, "user", "add", user, "--key", publicKey, "--role", "engineer", "--role", "ops", "--config", configPath],
            scratch: scratch.path
        )
        guard let uri = output.split(separator: "\n").first(where: { $0.hasPrefix("otpauth://") }),
              let query = uri.split(separator: "?", maxSplits: 1).last,
              let secret = query.split(separator: "&").first(where: { $0.hasPrefix("secret=") })?.dropFirst("secret=".count),
              !secret.isEmpty
        else {
            throw BenchError("bastiond user add printed no otpauth:// line with a secret:\n\(output)")
        }
        return String(secret).removingPercentEncoding ?? String(secret)
    }

    /// `bastiond serve`, stderr to `bastiond.log`; returns once the SSH port accepts connections.
    func start() throws(BenchError) -> Daemon {
        let daemon = try Daemon.start(
            name: name, [executable, "serve", "--config", configPath], logPath: scratch.file("\(name).log")
        )
        do {
            try daemon.waitUntilListening(on: sshPort)
        } catch {
            daemon.stop()
            throw error
        }
        return daemon
    }

    /// Logs in with key + TOTP (answered by `oathtool` through SSH_ASKPASS) and runs `cert`;
    /// returns the path of the saved certificate.
    func fetchCertificate(user: String, identity: String, totpSecret: String) throws(BenchError) -> String {
        let askpass = try scratch.write("askpass", "#!/bin/sh\nexec oathtool --totp -b '\(totpSecret)'\n", mode: 0o700)
        let output = try ProcessLauncher.output(
            SSHClient.arguments(port: sshPort, destination: "\(user)@127.0.0.1", command: "cert", identity: identity, batchMode: false),
            environment: ["SSH_ASKPASS": askpass, "SSH_ASKPASS_REQUIRE": "force"],
            scratch: scratch.path
        )
        guard output.hasPrefix("ssh-ed25519-cert-v01@openssh.com ") else {
            throw BenchError("bastiond's cert command printed no Ed25519 certificate:\n\(output)")
        }
        return try scratch.write("\(user)-cert.pub", output)
    }
}
