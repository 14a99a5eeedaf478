/// The three ways the relay benchmark reaches the same target sshd, as OpenSSH client command
/// lines that differ only in the route.
///
/// Each route reads its options from a client config file (`-F`) rather than `-o`, because
/// `ssh -J` passes `-F` on to the jump hop's own `ssh` but not `-o`: so the hop to the jump
/// host uses the same identity, cipher and key exchange as the hop to the target. Two files,
/// because `CertificateFile` adds up instead of replacing: the direct and jump routes present
/// the certificate the benchmark's own CA signed for `root`, the bastiond route the one
/// bastiond issued to alice.
struct RelayClients {
    enum Route: String, CaseIterable {
        case direct
        case jump = "ssh -J"
        case bastiond
        /// `ssh -J alice@bastiond root@web01`: bastiond answering the jump with its own server,
        /// recorded like `bastiond` (issue 19: the same figures within 10%).
        case bastiondJump = "bastiond -J"
        /// `libssh-floor`: libssh alone relaying to the same target, for scale (not a product route).
        case libsshFloor = "libssh alone"
    }

    let directConfig: String
    let bastiondConfig: String
    let targetPort: Int
    let bastiondPort: Int
    /// Where `libssh-floor` listens, when the benchmark started it.
    var floorPort: Int?

    /// `ssh -F … [-tt] DESTINATION COMMAND` for `route`.
    func arguments(_ route: Route, command: String, tty: Bool = false) -> [String] {
        var arguments: [String]
        switch route {
        case .direct:
            arguments = ["ssh", "-F", directConfig, "-p", String(targetPort)]
        case .jump:
            // The target sshd is its own jump host (AllowTcpForwarding yes): the same daemon,
            // so the three routes end at the same sshd with the same settings. The jump host
            // is named `localhost`: ssh refuses a jump host equal to the destination ("jumphost
            // loop"); `AddressFamily inet` makes that name 127.0.0.1 too.
            arguments = ["ssh", "-F", directConfig, "-J", "root@localhost:\(targetPort)", "-p", String(targetPort)]
        case .bastiond:
            arguments = ["ssh", "-F", bastiondConfig, "-p", String(bastiondPort)]
        case .bastiondJump:
            arguments = ["ssh", "-F", bastiondConfig, "-J", "alice@127.0.0.1:\(bastiondPort)"]
        case .libsshFloor:
            // It accepts any key, and relays with the direct route's certificate.
            arguments = ["ssh", "-F", directConfig, "-p", String(floorPort ?? 0)]
        }
        if tty { arguments.append("-tt") }
        switch route {
        case .bastiond: arguments.append("root@web01@127.0.0.1")
        case .bastiondJump: arguments.append("root@web01")
        default: arguments.append("root@127.0.0.1")
        }
        arguments.append(command)
        return arguments
    }

    /// The client options both files share: the engineer's key and `certificate`, `cipher` and
    /// `kex` pinned, no host key checks (throwaway servers on loopback), no machine config.
    static func configText(identity: String, certificate: String, cipher: String, kex: String?) -> String {
        var lines = [
            "Host *",
            "  IdentityFile \(identity)",
            "  CertificateFile \(certificate)",
            "  IdentitiesOnly yes",
            "  StrictHostKeyChecking no",
            "  UserKnownHostsFile /dev/null",
            "  GlobalKnownHostsFile /dev/null",
            "  LogLevel ERROR",
            "  BatchMode yes",
            "  Compression no",
            "  ControlMaster no",
            "  ControlPath none",
            "  ForwardAgent no",
            "  ConnectTimeout 20",
            "  AddressFamily inet",
            "  Ciphers \(cipher)",
        ]
        if let kex { lines.append("  KexAlgorithms \(kex)") }
        return lines.joined(separator: "\n") + "\n"
    }
}
