import BastionTesting
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// OpenSSH's sshd on loopback as the yardstick: it trusts Bastion's user CA, so the very
/// certificate bastiond issued logs in as root (principal `alice` listed for root).
///
/// The settings mirror testing-with-real-programs.md, plus `MaxStartups`/`MaxSessions` raised
/// so that sshd's unauthenticated-connection throttling does not drop the benchmark's clients.
struct OpenSSHTarget {
    static let executable = "/usr/sbin/sshd"

    let scratch: ScratchDirectory
    /// Prefix of its files in the scratch directory, and its name in messages.
    let name: String
    let port: Int
    let configPath: String
    let hostKeyPath: String
    /// The login's shell start-up file hidden from sshd, if any (see `start`).
    private(set) var hiddenStartupFile: String?

    static func configure(scratch: ScratchDirectory, trustedUserCA: String, principal: String) throws(BenchError) -> OpenSSHTarget {
        try configure(
            scratch: scratch, name: "sshd", trustedUserCAs: [trustedUserCA], principals: ["root": [principal]],
            extraConfig: ["MaxStartups 100:30:200", "MaxSessions 100"]
        )
    }

    /// An sshd whose files are named `NAME…` in `scratch`, trusting every CA in `trustedUserCAs`
    /// (public key files, joined into one `TrustedUserCAKeys` file) for the logins in
    /// `principals` (login → principals accepted for it), with `extraConfig` lines appended.
    static func configure(
        scratch: ScratchDirectory, name: String, trustedUserCAs: [String], principals: [String: [String]], extraConfig: [String]
    ) throws(BenchError) -> OpenSSHTarget {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw BenchError("\(executable) not found (Debian package openssh-server)")
        }
        // sshd refuses to start without its privilege-separation directory.
        do {
            try FileManager.default.createDirectory(atPath: "/run/sshd", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        } catch {
            throw BenchError("cannot create /run/sshd: \(error)")
        }
        let hostKey = scratch.file("\(name)_host_ed25519_key")
        try ProcessLauncher.output(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bench-\(name)", "-f", hostKey], scratch: scratch.path)
        var authorities: [String] = []
        for path in trustedUserCAs {
            guard FileManager.default.isReadableFile(atPath: path), let line = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw BenchError("no user CA public key at \(path)")
            }
            authorities.append(line.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let trusted = try scratch.write("\(name)_trusted_user_ca.pub", authorities.joined(separator: "\n") + "\n", mode: 0o644)
        for (login, accepted) in principals {
            try scratch.write("\(name)_principals/\(login)", accepted.joined(separator: "\n") + "\n", mode: 0o644)
        }
        let port = try LoopbackPort.free()
        let configPath = try scratch.write("\(name)_config", ([
            "Port \(port)",
            "ListenAddress 127.0.0.1",
            "HostKey \(hostKey)",
            "TrustedUserCAKeys \(trusted)",
            "AuthorizedPrincipalsFile \(scratch.file("\(name)_principals"))/%u",
            "AuthorizedKeysFile none",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "UseDNS no",
            "PidFile \(scratch.file("\(name).pid"))",
            "LogLevel ERROR",
        ] + extraConfig).joined(separator: "\n") + "\n")
        return OpenSSHTarget(scratch: scratch, name: name, port: port, configPath: configPath, hostKeyPath: hostKey)
    }

    /// The host key as `TYPE BASE64` (no comment): what bastiond's `[targets.X] host_key` pins.
    func hostKeyLine() throws(BenchError) -> String {
        let fields = try scratch.read((hostKeyPath as NSString).lastPathComponent + ".pub").split(separator: " ")
        guard fields.count >= 2 else { throw BenchError("unreadable host key \(hostKeyPath).pub") }
        return "\(fields[0]) \(fields[1])"
    }

    /// `sshd -D -e -f CONFIG` (foreground, log to stderr → `sshd.log`); returns once it listens.
    ///
    /// The login's `~/.bashrc` is hidden from sshd when it can be (``ShellStartupFiles``): a
    /// developer's `.bashrc` can cost a hundred processes per login, which would measure the
    /// machine, not sshd.
    mutating func start(login: String) throws(BenchError) -> Daemon {
        var arguments = [Self.executable, "-D", "-e", "-f", configPath]
        let startupFiles = ShellStartupFiles.bashrc(of: [login])
        if !startupFiles.isEmpty, ShellStartupFiles.canHide {
            let empty = try scratch.write("\(name)-empty-bashrc", "", mode: 0o644)
            arguments = ShellStartupFiles.hiding(startupFiles, behind: empty, arguments)
            hiddenStartupFile = startupFiles.first
        }
        let daemon = try Daemon.start(name: name, arguments, logPath: scratch.file("\(name).log"))
        do {
            try daemon.waitUntilListening(on: port)
        } catch {
            daemon.stop()
            throw error
        }
        return daemon
    }
}
