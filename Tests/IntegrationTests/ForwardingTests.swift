import BastionApp
import BastionCore
import BastionStore
import BastionTesting
import Foundation
import Testing

/// Port, agent and X11 forwarding are off: refused, and each refusal audited.
@Suite("Forwarding refused")
struct ForwardingTests {
    @Test("local forwarding (ssh -W opens direct-tcpip) is refused and audited")
    func localForwarding() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            let result = try await alice.ssh([], answer: .none, useCertificate: true, options: ["-W", "127.0.0.1:\(bastion.endpoints.httpPort)"])
            #expect(result.status != 0)
            #expect(result.stderr.contains("stdio forwarding failed"), "\(result)")
            let refusals = try bastion.auditRecords("forward.refused").compactMap { $0["reason"] as? String }
            #expect(refusals.contains { $0.contains("local port forwarding") }, "\(refusals)")
        }
    }

    @Test("remote forwarding (ssh -R) is refused and audited")
    func remoteForwarding() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            let result = try await alice.ssh(
                ["whoami"], answer: .none, useCertificate: true, options: ["-o", "ExitOnForwardFailure=yes", "-R", "0:127.0.0.1:9"]
            )
            #expect(result.status == 255, "\(result)")
            #expect(result.stderr.contains("remote port forwarding failed"), "\(result)")
            let refusals = try bastion.auditRecords("forward.refused").compactMap { $0["reason"] as? String }
            #expect(refusals.contains { $0.contains("remote port forwarding") }, "\(refusals)")
        }
    }

    @Test("agent forwarding (ssh -A) is not served and is audited")
    func agentForwarding() async throws {
        try await withBastion { bastion in
            let alice = try await bastion.enroll("alice")
            try await alice.fetchCertificate()
            // A throwaway agent in the foreground (-D), stopped by PID. Spawned, not run with
            // Foundation's Process: ssh-agent closes inherited descriptors, which stalls every
            // other Process of the test run until it exits (see ChildSpawner).
            let agentSocket = bastion.directory.file("agent.sock")
            let agent = try ChildSpawner.spawn([try ProcessRunner.locate("ssh-agent"), "-D", "-a", agentSocket])
            defer { ChildSpawner.terminate(agent) }
            while !FileManager.default.fileExists(atPath: agentSocket) { try await Task.sleep(for: .milliseconds(20)) }
            let result = try await alice.ssh(
                ["whoami"], answer: .none, useCertificate: true, options: ["-A", "-o", "IdentityAgent=\(agentSocket)"]
            )
            #expect(result.status == 0, "\(result)")
            let refusals = try bastion.auditRecords("forward.refused").compactMap { $0["reason"] as? String }
            #expect(refusals.contains { $0.contains("agent forwarding") }, "\(refusals)")
        }
    }
}
