import BastionApp
import BastionCore
import BastionStore
import BastionTesting
import Foundation
import Testing

/// Auditors over the stock ssh client: sessions found by user, target, time and by a word
/// they printed; elevation leaving markers in live recordings; non-auditors refused.
@Suite("Auditors: sessions")
struct AuditorTests {
    static let roles = """
        [roles.inspector]
        audit = true
        [roles.sre]
        targets = ["web*"]
        elevated_logins = ["root"]
        """

    @Test("sessions lists ended sessions; --user, --target, --since and --grep narrow it; each search audited")
    func search() async throws {
        try await withRelay(extraConfig: Self.roles) { harness, _ in
            let alice = try await harness.enroll("alice", roles: ["ops"])
            let carol = try await harness.enroll("carol", roles: ["inspector"])
            try await alice.fetchCertificate()
            try await carol.fetchCertificate()
            let first = try await alice.ssh(["printf '\\033[1;32mzebracorn\\033[0m deployed\\n'"], user: "root@web01", useCertificate: true)
            #expect(first.status == 0, "\(first)")
            let second = try await alice.ssh(["echo quietly; exit 3"], user: "root@web01", useCertificate: true)
            #expect(second.status == 3)

            let all = try await carol.ssh(["sessions"], useCertificate: true)
            #expect(all.status == 0, "\(all)")
            let lines = all.stdout.split(separator: "\n")
            #expect(lines.count == 3, "\(all.stdout)")
            #expect(lines.dropFirst().allSatisfy { $0.contains("alice") })
            #expect(all.stdout.contains("root@web01") && lines[1].contains(" 3 "), "newest first, with its exit status: \(all.stdout)")

            let word = try await carol.ssh(["sessions --grep zebracorn"], useCertificate: true)
            #expect(word.stdout.split(separator: "\n").count == 2 && word.stdout.contains("root@web01"), "\(word.stdout)")
            let colourless = try await carol.ssh(["sessions --grep 'zebracorn deployed'"], useCertificate: true)
            #expect(colourless.stdout.contains("root@web01"), "words are found across the colour codes: \(colourless.stdout)")
            let nothing = try await carol.ssh(["sessions --grep unicornzebra"], useCertificate: true)
            #expect(nothing.stdout.hasPrefix("no session printed"), "\(nothing.stdout)")
            let target = try await carol.ssh(["sessions --target web01"], useCertificate: true)
            #expect(target.stdout.split(separator: "\n").count == 3, "\(target.stdout)")
            let otherTarget = try await carol.ssh(["sessions --target db01"], useCertificate: true)
            #expect(otherTarget.stdout == "no sessions\n")
            let user = try await carol.ssh(["sessions --user carol"], useCertificate: true)
            #expect(user.stdout == "no sessions\n")
            let recent = try await carol.ssh(["sessions --since 1h"], useCertificate: true)
            #expect(recent.stdout.split(separator: "\n").count == 3)
            let future = try await carol.ssh(["sessions --since 2999-01-01"], useCertificate: true)
            #expect(future.stdout == "no sessions\n")
            let bad = try await carol.ssh(["sessions --since soon"], useCertificate: true)
            #expect(bad.status == 2 && bad.stderr.contains("invalid --since"))

            let searches = try harness.auditRecords("session.search").map { $0["details"] as? [String: String] ?? [:] }
            #expect(searches.count == 9, "\(searches)")
            #expect(searches.contains { $0["query"] == "grep=zebracorn" && $0["results"] == "1" })

            // Not an auditor: refused, and the refusal is audited.
            let refused = try await alice.ssh(["sessions"], useCertificate: true)
            #expect(refused.status == 1 && refused.stderr.contains("for auditors only"), "\(refused)")
            let denied = try harness.auditRecords("command.denied").compactMap { $0["reason"] as? String }
            #expect(denied.contains("not an auditor"))
        }
    }

    @Test("an elevation request filed during a session leaves a marker in its recording")
    func elevationMarkers() async throws {
        try await withRelay(extraConfig: Self.roles) { harness, _ in
            let alice = try await harness.enroll("alice", roles: ["ops", "sre"])
            try await alice.fetchCertificate()
            let output = harness.directory.file("session.out")
            // The session lasts until the request is filed, however long a loaded machine takes.
            let go = harness.directory.file("go-after")
            let pid = try ChildSpawner.spawn(
                [try ProcessRunner.locate("ssh")] + alice.clientOptions(useCertificate: true)
                    + ["-p", String(harness.endpoints.sshPort), "root@web01@127.0.0.1", "echo before; \(WatchTests.waitFor(go)); echo after"],
                output: output
            )
            defer { ChildSpawner.terminate(pid) }
            _ = try await relayPoll(timeout: 15) { try !harness.environment.sessions.liveSessions().isEmpty }
            let filed = try await alice.ssh(["elevate web01 --reason check the marker --no-wait"], useCertificate: true)
            let id = try #require(filed.stdout.firstMatch(of: /request ([0-9a-f]{8})/).map { String($0.1) }, "\(filed)")
            FileManager.default.createFile(atPath: go, contents: Data())
            var status: Int32?
            _ = try await relayPoll(timeout: 40) {
                status = ChildSpawner.exitStatus(pid)
                return status != nil
            }
            #expect(status == 0)
            let end = try #require(try await harness.auditDetails("session.end").first)
            let recording = try #require(end["recording"])
            let markers = try RelayRecording.events(recording).filter { $0.code == "m" }.map(\.data)
            #expect(markers.contains("elevation \(id) requested: root for 30m"), "\(markers)")
            #expect(try await RelayRecording.asciinemaCat(recording).status == 0)
        }
    }
}
