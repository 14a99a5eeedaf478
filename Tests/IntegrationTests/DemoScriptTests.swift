import BastionTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `make demo` (Scripts/demo) as the README tells a newcomer to use it: the three commands it
/// prints work as printed (certificate, session, replay), and Ctrl-C stops everything it started.
@Suite("make demo")
struct DemoScriptTests {
    @Test("the printed certificate, session and replay commands work; stopping the demo stops bastiond and sshd")
    func demo() async throws {
        let directory = try TemporaryDirectory(prefix: "bastion-demo")
        let repository = BastiondBinary.checkout.path
        let output = directory.file("demo.out")
        let ports = try (0..<3).map { _ in String(try SSHDFixture.freePort()) }
        let script = try SpawnedProcess(
            executable: repository + "/Scripts/demo", [],
            environment: ProcessInfo.processInfo.environment.merging([
                "BASTIOND": try BastiondBinary.path, "DEMO_DIR": directory.file("state"),
                "DEMO_SSH_PORT": ports[0], "DEMO_HTTP_PORT": ports[1], "DEMO_TARGET_PORT": ports[2],
            ]) { _, new in new },
            currentDirectory: repository, stdout: .file(output), stderr: .file(output)
        )
        defer { script.signal(SIGKILL) }
        func printed() -> String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
        try #require(try await relayPoll(timeout: 60) { printed().contains("Ctrl-C stops the demo.") }, "\(printed())")

        let text = printed()
        let secret = try #require(text.firstMatch(of: /TOTP secret ([A-Z2-7]+)/)?.1, "\(text)")
        let certLine = try #require(text.split(separator: "\n").first { $0.contains(" cert > ") }, "\(text)")
        let ssh = certLine.trimmingCharacters(in: .whitespaces).components(separatedBy: " demo@127.0.0.1 cert")[0]
            .split(separator: " ").map(String.init)
        let askpass = directory.file("askpass")
        try Engineer.writeExecutable(askpass, "#!/bin/sh\nexec oathtool --totp -b \(secret)\n")
        func run(_ arguments: [String], code: Bool = false) async throws -> ProcessRunner.Result {
            let environment = code ? ["SSH_ASKPASS": askpass, "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"] : [:]
            return try await ProcessRunner.run(ssh[0], Array(ssh.dropFirst()) + arguments, environment: environment, currentDirectory: repository)
        }

        // 1. The certificate, with key + TOTP, written where the printed command writes it.
        let certificate = try await run(["demo@127.0.0.1", "cert"], code: true)
        try #require(certificate.status == 0, "\(certificate)")
        try certificate.stdout.write(toFile: directory.file("state/demo_key-cert.pub"), atomically: true, encoding: .utf8)
        // 2. A recorded session on the target, logged in by the certificate alone.
        let login = try await ProcessRunner.run("id", ["-un"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let session = try await run(["\(login)@demo@127.0.0.1", "echo hello from the demo target"])
        #expect(session.status == 0, "\(session)")
        #expect(session.stdout == "hello from the demo target\n")
        // 3. Listed and replayed.
        let sessions = try await run(["demo@127.0.0.1", "sessions"])
        let id = try #require(sessions.stdout.split(separator: "\n").dropFirst().first?.split(separator: " ").first, "\(sessions)")
        let replay = try await run(["demo@127.0.0.1", "replay", String(id), "--raw"])
        #expect(replay.stdout.contains("hello from the demo target"), "\(replay)")

        // Ctrl-C: the script's trap stops bastiond and sshd.
        let pidFile = directory.file("state/target/sshd.pid")
        let sshdPID = try #require(Int32((try? String(contentsOfFile: pidFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""))
        script.signal(SIGINT)
        #expect(try await script.waitForExit(timeout: 15))
        #expect(try await relayPoll(timeout: 10) { kill(sshdPID, 0) != 0 }, "sshd \(sshdPID) still runs")
        let listening = try? TCPStream(port: Int(ports[0])!)
        #expect(listening == nil, "bastiond still listens on \(ports[0])")
    }
}
