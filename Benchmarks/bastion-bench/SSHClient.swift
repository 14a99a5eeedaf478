/// The OpenSSH client command lines the benchmark runs, in one place so that both servers
/// see exactly the same client.
///
/// `-F /dev/null` keeps the machine's ssh_config out; host keys are not checked because the
/// servers are throwaway ones on loopback with keys made for this run. `kex` pins the key
/// exchange (see `BenchOptions.kex` for why).
enum SSHClient {
    static func arguments(
        port: Int, destination: String, command: String, identity: String, certificate: String? = nil,
        kex: String? = nil, batchMode: Bool = true
    ) -> [String] {
        var arguments = [
            "ssh", "-F", "/dev/null", "-i", identity,
            "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "LogLevel=ERROR", "-o", "BatchMode=\(batchMode ? "yes" : "no")",
        ]
        if let certificate { arguments += ["-o", "CertificateFile=\(certificate)"] }
        if let kex { arguments += ["-o", "KexAlgorithms=\(kex)"] }
        if !batchMode { arguments += ["-o", "NumberOfPasswordPrompts=1"] }
        return arguments + ["-p", String(port), destination, command]
    }
}
