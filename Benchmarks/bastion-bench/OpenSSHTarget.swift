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
    /// sshd runs every command through the login's shell, and Debian's bash reads `~/.bashrc`
    /// even for `bash -c` when started by sshd. A developer's `.bashrc` (pyenv, cargo, …) can
    /// cost a hundred processes per login, which would measure the machine, not sshd. So when
    /// `unshare` can make a private mount namespace, sshd starts in one where an empty file is
    /// bind-mounted over that `.bashrc`; the host's file and mounts are untouched, and the
    /// namespace goes away with sshd. `unshare` and `sh` exec into sshd, so the PID is sshd's.
    mutating func start(login: String) throws(BenchError) -> Daemon {
        var arguments = [Self.executable, "-D", "-e", "-f", configPath]
        if let startupFile = Self.shellStartupFile(of: login), Self.canUnshareMounts() {
            let empty = try scratch.write("\(name)-empty-bashrc", "", mode: 0o644)
            arguments = [
                "unshare", "--mount", "--propagation", "private",
                "/bin/sh", "-c", "mount --bind \"$1\" \"$2\" || exit 97; shift 2; exec \"$@\"", "sh", empty, startupFile,
            ] + arguments
            hiddenStartupFile = startupFile
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

extension OpenSSHTarget {
    /// The `.bashrc` that `login`'s shell would read for an sshd command, if it has one.
    static func shellStartupFile(of login: String) -> String? {
        guard let entry = getpwnam(login), let shell = entry.pointee.pw_shell, let home = entry.pointee.pw_dir else { return nil }
        guard String(cString: shell).hasSuffix("/bash") else { return nil }
        let path = String(cString: home) + "/.bashrc"
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// Whether this process may create a private mount namespace (root with CAP_SYS_ADMIN).
    static func canUnshareMounts() -> Bool {
        (try? ProcessLauncher.run(["unshare", "--mount", "--propagation", "private", "true"])) == 0
    }
}
