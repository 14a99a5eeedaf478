import BastionCore
import BastionTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Two real `bastiond serve` processes on one PostgreSQL database and one recording
/// directory; node A is killed with SIGKILL, or paused, while it relays a session.
@Suite("Two nodes on PostgreSQL: a node killed -9 or paused")
struct HANodeLossTests {
    @Test("node A killed -9: its session ends; node B records the end and closes the recording as interrupted, and leaves its own session alone")
    func nodeKilled() async throws {
        try await withCluster(nodeTimeout: "3s") { cluster in
            // One session through each node (web01 through A, web02 through B).
            let (alice, clientA, _) = try await cluster.aliceInSessionOnNodeA(marker: "on-node-a")
            defer { ChildSpawner.terminate(clientA) }
            let outputB = cluster.directory.file("b.out")
            let clientB = try cluster.spawnSession(alice, port: cluster.nodeB.sshPort, user: "root@web02", "echo on-node-b; sleep 60", output: outputB)
            defer { ChildSpawner.terminate(clientB) }
            func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
            try #require(try await clusterPoll(timeout: 20) { text(outputB).contains("on-node-b") })
            let before = try await RelayDaemonProcess.run(["session", "list", "--config", cluster.configB])
            #expect(before.stdout.contains("root@web01") && before.stdout.contains("root@web02"), "\(before)")

            // Node A's recording holds the output on disk (flushed at least every 500 ms) before the kill.
            var recordingA = ""
            try #require(try await clusterPoll(timeout: 20) {
                for file in RelayRecording.files(under: cluster.recordings)
                where ((try? RelayRecording.events(file)) ?? []).contains(where: { $0.code == "o" && $0.data.contains("on-node-a") }) {
                    recordingA = file
                    return true
                }
                return false
            })
            cluster.nodeA.process.signal(SIGKILL)
            #expect(try await clusterPoll(timeout: 15) { ChildSpawner.exitStatus(clientA) != nil }, "the client of the killed node was not disconnected")

            // Within the node timeout (3 s) plus a beat, B ends A's session and closes its recording.
            #expect(try await clusterPoll(timeout: 20) { !FileManager.default.fileExists(atPath: recordingA + ".open") }, "A's recording was not closed by node B")
            let after = try await RelayDaemonProcess.run(["session", "list", "--config", cluster.configB])
            #expect(!after.stdout.contains("root@web01") && after.stdout.contains("root@web02"), "\(after)")
            let ends = try await RelayDaemonProcess.run(["audit", "search", "--type", "session.end", "--config", cluster.configB, "--json"])
            #expect(ends.stdout.contains("interrupted") && ends.stdout.contains("stopped answering"), "\(ends)")

            let replay = try await RelayRecording.asciinemaCat(recordingA)
            #expect(replay.status == 0 && replay.stdout.contains("on-node-a"), "\(replay)")
            let closed = String(decoding: (try? RelayRecording.plaintext(recordingA)) ?? [], as: UTF8.self)
            #expect(closed.contains("\"interrupted\""), "no interrupted marker: \(closed.suffix(200))")
            let recordingsOpen = RelayRecording.files(under: cluster.recordings).filter { FileManager.default.fileExists(atPath: $0 + ".open") }
            #expect(recordingsOpen.count == 1, "node B's own recording stays open: \(recordingsOpen)")
            #expect(ChildSpawner.exitStatus(clientB) == nil, "node B's own session must go on")
        }
    }

    @Test("node A paused past the node timeout: node B ends its session; when A resumes it closes that session with a message")
    func nodePaused() async throws {
        try await withCluster(nodeTimeout: "3s") { cluster in
            let (_, client, output) = try await cluster.aliceInSessionOnNodeA(marker: "on-node-a")
            defer { ChildSpawner.terminate(client) }
            func text() -> String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }

            cluster.nodeA.process.signal(SIGSTOP)
            defer { cluster.nodeA.process.signal(SIGCONT) }
            // Node B takes A for lost after 3 s of silence and ends A's session in the registry.
            var listed = ""
            let ended = try await clusterPollAsync(timeout: 20) {
                listed = try await RelayDaemonProcess.run(["session", "list", "--config", cluster.configB]).stdout
                return !listed.contains("root@web01")
            }
            try #require(ended, "node B did not end the paused node's session: \(listed)")
            #expect(ChildSpawner.exitStatus(client) == nil, "the client cannot notice a paused node")

            // Resumed, A finds the session ended elsewhere at its next check: it is closed,
            // not left relaying where nobody can list or kill it.
            cluster.nodeA.process.signal(SIGCONT)
            #expect(try await clusterPoll(timeout: 10) { ChildSpawner.exitStatus(client) != nil }, "the resumed node went on relaying")
            #expect(text().contains("bastion: this bastion node lost contact with the cluster; session closed"), "\(text())")
            let ends = try await RelayDaemonProcess.run(["audit", "search", "--type", "session.end", "--config", cluster.configB, "--json"])
            #expect(ends.stdout.contains("stopped answering"), "B's end: \(ends)")
            #expect(ends.stdout.contains("ended by another node while this node was silent"), "A's own end: \(ends)")
        }
    }
}
