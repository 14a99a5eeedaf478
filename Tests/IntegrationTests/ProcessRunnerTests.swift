import BastionTesting
import Foundation
import Testing

/// The harness that runs every real program: it must learn of each child's end on its own,
/// whatever the other children do.
@Suite("Process runner")
struct ProcessRunnerTests {
    /// `ssh` and `sshd` close every inherited descriptor at start (OpenSSH's closefrom).
    /// Foundation.Process then blocks its one monitor thread until such a child exits, and
    /// every other child looks alive meanwhile: in CI a bastiond that had stopped looked
    /// alive for the 10 s a test allowed. Python stands in for OpenSSH here, to choose the
    /// time it lives.
    @Test("a child that closes inherited descriptors does not delay news of another child's end")
    func descriptorClosingChildDelaysNothing() async throws {
        let lingering = Task {
            try await ProcessRunner.run("python3", ["-c", "import os, time; os.closerange(3, 4096); time.sleep(8)"])
        }
        defer { lingering.cancel() }
        try await Task.sleep(for: .milliseconds(500))
        let started = Date()
        let quick = try await ProcessRunner.run("sh", ["-c", "echo out; echo err >&2; exit 3"])
        let elapsed = Date().timeIntervalSince(started)
        #expect(elapsed < 4, "a quick child was seen to end after \(elapsed) s, while another child lingered")
        #expect(quick.status == 3 && quick.stdout == "out\n" && quick.stderr == "err\n", "\(quick)")
        let finished = try await lingering.value
        #expect(finished.status == 0, "\(finished)")
    }

    @Test("input, environment, working directory, death by signal and the deadline")
    func runnerOptions() async throws {
        let directory = try TemporaryDirectory()
        let echoed = try await ProcessRunner.run(
            "sh", ["-c", "cat; echo \"$GREETING\"; touch here"], environment: ["GREETING": "hello"], input: Data("typed\n".utf8),
            currentDirectory: directory.path
        )
        #expect(echoed.stdout == "typed\nhello\n", "\(echoed)")
        #expect(FileManager.default.fileExists(atPath: directory.file("here")), "the child ran in the directory asked for")
        // A child that exits without reading its input: the runner notices, the test process lives.
        let unread = try await ProcessRunner.run("true", [], input: Data(count: 4 << 20))
        #expect(unread.status == 0, "\(unread)")
        let killed = try await ProcessRunner.run("sh", ["-c", "kill -TERM $$"])
        #expect(killed.status == 128 + SIGTERM, "\(killed)")
        let slow = try await ProcessRunner.run("sleep", ["30"], timeout: 0.5)
        #expect(slow.timedOut && slow.status == 128 + SIGKILL, "\(slow)")
    }
}
