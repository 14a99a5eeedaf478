import Foundation

/// What `ssh -J` users need to know of this bastion: where its SSH front door is reached from
/// outside and the host key its jump server presents for every target.
///
/// libssh 0.10.6's server cannot present an OpenSSH host certificate (it offers only plain
/// key types and sends the bare public key in the key exchange), so there is no
/// `@cert-authority` line: the inner server presents the bastion's own host key under each
/// target's name, and the known_hosts line lists the targets' names.
public struct JumpConfig: Sendable {
    /// `ssh.public_address`: host and port clients connect to.
    public var host: String
    public var port: Int
    public var hostKey: SSHPublicKey

    public init(host: String, port: Int, hostKey: SSHPublicKey) {
        self.host = host
        self.port = port
        self.hostKey = hostKey
    }

    /// `known_hosts` patterns under which a client looks a target up through the jump: its
    /// name (`web01`, or `[web01]:2200` on another port) and its address as declared.
    public static func hostPatterns(_ target: TargetDefinition) -> [String] {
        target.port == 22 ? [target.name, target.host] : [target.name, "[\(target.name)]:\(target.port)", "[\(target.host)]:\(target.port)"]
    }

    /// One known_hosts line covering `targets` (empty when there are none).
    public static func knownHostsLine(hostKey: SSHPublicKey, targets: [TargetDefinition]) -> String {
        var seen = Set<String>()
        let patterns = targets.sorted { $0.name < $1.name }.flatMap(hostPatterns).filter { seen.insert($0).inserted }
        guard !patterns.isEmpty else { return "" }
        return patterns.joined(separator: ",") + " " + hostKey.authorizedKeysLine
    }

    /// Where README's step 3 has the user save the certificate of a key of `kind`
    /// (`cert > ~/.ssh/id_ed25519-cert.pub`): beside OpenSSH's default identity of that type.
    public static func certificateFile(for kind: SSHPublicKey.Kind) -> String {
        switch kind {
        case .ed25519: "~/.ssh/id_ed25519-cert.pub"
        case .ecdsa: "~/.ssh/id_ecdsa-cert.pub"
        case .rsa: "~/.ssh/id_rsa-cert.pub"
        }
    }

    /// The text of `ssh-config`: a `Host` block per target the user reaches, for `ssh -F` or
    /// an `Include` in `~/.ssh/config`. The host key travels in `KnownHostsCommand` (OpenSSH
    /// 8.5+, here 9.2): the block needs no file beside it and no edit of `known_hosts`, and the
    /// key is trusted for that block's host only. `CertificateFile` names where the certificate
    /// of the key the user logged in with is saved (``certificateFile(for:)``); OpenSSH skips
    /// it silently when it is not there, and finds `id_TYPE-cert.pub` beside the key by itself.
    public func sshConfig(user: UserName, keyKind: SSHPublicKey.Kind, reachable: [(target: TargetDefinition, logins: [String])]) -> String {
        let jump = "\(user.rawValue)@\(host.contains(":") ? "[\(host)]" : host):\(port)"
        var lines = [
            "# Bastion targets for \(user.rawValue): ssh TARGET, scp FILE TARGET:, rsync -a DIR/ TARGET:DIR/ (ssh -F this file, or Include it).",
            "# Each session goes through Bastion (ProxyJump) and is recorded; authenticate as you do to Bastion",
            "# (your Bastion certificate, or key + verification code).",
        ]
        guard !reachable.isEmpty else { return (lines + ["# no targets: none of your roles grants a target"]).joined(separator: "\n") + "\n" }
        for (target, logins) in reachable.sorted(by: { $0.target.name < $1.target.name }) {
            let names = logins.map { $0.hasSuffix("*") ? String($0.dropLast()) : $0 }
            lines.append("")
            lines.append("Host \(target.name)")
            lines.append("    HostName \(target.name)")
            if let first = names.first { lines.append("    User \(first)") }
            if names.count > 1 { lines.append("    # other logins: \(names.dropFirst().joined(separator: ", ")) (ssh LOGIN@\(target.name))") }
            lines.append("    ProxyJump \(jump)")
            lines.append("    CertificateFile \(Self.certificateFile(for: keyKind))")
            lines.append("    KnownHostsCommand /bin/echo %H \(hostKey.authorizedKeysLine)")
            lines.append("    StrictHostKeyChecking yes")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
