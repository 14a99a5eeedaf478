import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where the `libssh-floor` relay is and how to learn its port.
///
/// SwiftPM builds it next to `bastion-bench` (`make bench` builds both), so it is found
/// beside this executable, not on PATH.
enum LibSSHFloor {
    static var executable: String {
        let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (own as NSString).deletingLastPathComponent + "/libssh-floor"
    }

    /// Starts it toward the target sshd on `targetPort`, authenticating there as root with
    /// `identity` and its `certificate` (one the target trusts); returns once it answers SSH.
    static func start(
        targetPort: Int, identity: String, certificate: String, scratch: ScratchDirectory
    ) throws(BenchError) -> (daemon: Daemon, port: Int) {
        let hostKey = scratch.file("floor_host_ed25519")
        try ProcessLauncher.output(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", hostKey], scratch: scratch.path)
        let portFile = scratch.file("floor.port")
        let daemon = try Daemon.start(
            name: "libssh-floor",
            [
                executable, "--port-file", portFile, "--host-key", hostKey, "--target-port", String(targetPort),
                "--login", "root", "--identity", identity, "--certificate", certificate,
            ],
            logPath: scratch.file("libssh-floor.log")
        )
        do throws(BenchError) {
            let port = try waitForPort(portFile, daemon: daemon)
            try daemon.waitUntilListening(on: port)
            return (daemon, port)
        } catch {
            BastionBench.stop(daemon)
            throw error
        }
    }

    /// The port it bound (it listens on port 0 and writes the number to `portFile`).
    private static func waitForPort(_ portFile: String, daemon: Daemon, timeout: Duration = .seconds(20)) throws(BenchError) -> Int {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), let port = Int(text) { return port }
            guard daemon.isRunning else { throw BenchError("libssh-floor exited before listening\n\(daemon.logTail())") }
            usleep(20_000)
        }
        throw BenchError("libssh-floor wrote no port within \(timeout)\n\(daemon.logTail())")
    }
}
