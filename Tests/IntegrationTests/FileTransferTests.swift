import BastionApp
import BastionCore
import BastionTesting
import Foundation
import Testing

/// SFTP and legacy scp parsed on the relay: a `file.*` record per file with the SHA-256 that
/// `sha256sum` prints on both ends, and `roles.NAME.file_transfer` enforced with real clients.
@Suite("File transfers, file by file", .serialized)
struct FileTransferTests {
    static let roles = """
        [roles.reader]
        targets = ["web*"]
        logins = ["root"]
        file_transfer = "download"
        [roles.inspector]
        audit = true
        [roles.nofiles]
        targets = ["web*"]
        logins = ["root"]
        file_transfer = "deny"
        """

    /// A file of `size` pseudo-random bytes in the harness's directory.
    static func payload(_ bastion: BastionHarness, _ name: String, size: Int) throws -> String {
        let path = bastion.directory.file(name)
        var generator = SeededGenerator(seed: UInt64(size))
        try Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func sftp(_ engineer: Engineer, _ bastion: BastionHarness, batch lines: [String], extra: [String] = []) async throws -> ProcessRunner.Result {
        let batch = bastion.directory.file("batch-\(UUID().uuidString.prefix(6))")
        try (lines.joined(separator: "\n") + "\n").write(toFile: batch, atomically: true, encoding: .utf8)
        return try await ProcessRunner.run(
            "sftp", engineer.clientOptions(useCertificate: true) + extra + ["-P", String(bastion.endpoints.sshPort), "-b", batch, "root@web01@127.0.0.1"],
            timeout: 60
        )
    }

    /// The `file.*` records of `type`, waiting (up to 5 s) until one matches `where`.
    static func record(_ bastion: BastionHarness, _ type: String, where match: ([String: String]) -> Bool) async throws -> [String: String]? {
        for _ in 0..<100 {
            if let found = try bastion.auditDetailsNow(type).first(where: match) { return found }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    @Test("sftp put, get, rename, mkdir, rmdir, rm: one record each, with the SHA-256 both ends see")
    func sftpOperations() async throws {
        try await withRelay(extraConfig: Self.roles) { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let source = try Self.payload(bastion, "upload.bin", size: 3_000_000)
            let remote = bastion.directory.file("remote.bin")
            let fetched = bastion.directory.file("fetched.bin")
            let digest = try await RelayTests.sha256(source)
            let result = try await Self.sftp(alice, bastion, batch: [
                "put \(source) \(remote)", "get \(remote) \(fetched)", "mkdir \(remote).d", "rename \(remote) \(remote).d/moved",
                "rm \(remote).d/moved", "rmdir \(remote).d",
            ])
            #expect(result.status == 0, "\(result)")
            #expect(try await RelayTests.sha256(fetched) == digest)

            let written = try #require(try await Self.record(bastion, "file.close") { $0["path"] == remote && $0["bytes_written"] == "3000000" })
            #expect(written["sha256"] == digest)
            #expect(written["protocol"] == "sftp")
            #expect(written["flags"]?.contains("write") == true)
            let read = try #require(try await Self.record(bastion, "file.close") { $0["path"] == remote && $0["bytes_read"] == "3000000" })
            #expect(read["sha256"] == digest)
            #expect(try await Self.record(bastion, "file.open") { $0["path"] == remote } != nil)
            #expect(try await Self.record(bastion, "file.mkdir") { $0["path"] == remote + ".d" } != nil)
            #expect(try await Self.record(bastion, "file.rename") { $0["path"] == remote && $0["to"] == remote + ".d/moved" } != nil)
            #expect(try await Self.record(bastion, "file.remove") { $0["path"] == remote + ".d/moved" } != nil)
            #expect(try await Self.record(bastion, "file.rmdir") { $0["path"] == remote + ".d" } != nil)
            // The session's id ties them to the recording.
            let start = try #require(try await bastion.auditDetails("session.start").first { $0["kind"] == "subsystem" })
            #expect(written["session_id"] == start["session_id"])
            // Its session.end counts them: the index looks for a session's files only when it has some.
            let end = try #require(try await Self.record(bastion, "session.end") { $0["session_id"] == start["session_id"] })
            let moved = try bastion.auditDetailsNow("file.*").filter { $0["session_id"] == start["session_id"] }
            #expect(moved.count >= 7 && end["file_operations"] == String(moved.count), "\(moved.count) records, session.end says \(end)")

            // An auditor finds the session by a file name it moved, and sees its files listed.
            let carol = try await bastion.enroll("carol", roles: ["inspector"])
            try await carol.fetchCertificate()
            let found = try await carol.ssh(["sessions --grep moved"], useCertificate: true)
            #expect(found.status == 0, "\(found)")
            #expect(found.stdout.contains(start["session_id"] ?? "?"), "\(found.stdout)")
            #expect(found.stdout.contains("file.close  \(remote)  wrote 2.9 MiB  sha256 \(digest)"), "\(found.stdout)")
            #expect(found.stdout.contains("file.rename  \(remote)  → \(remote).d/moved"), "\(found.stdout)")
        }
    }

    @Test("scp (SFTP mode) and scp -O both ways: records with the SHA-256 of the bytes that crossed")
    func scpBothModes() async throws {
        try await withRelay(extraConfig: Self.roles) { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let source = try Self.payload(bastion, "scp.bin", size: 1_500_000)
            let digest = try await RelayTests.sha256(source)
            let port = String(bastion.endpoints.sshPort)
            for (mode, flags) in [("sftp", [String]()), ("scp", ["-O"])] {
                let remote = bastion.directory.file("remote-\(mode).bin")
                let back = bastion.directory.file("back-\(mode).bin")
                let up = try await ProcessRunner.run("scp", alice.clientOptions(useCertificate: true) + flags + ["-P", port, source, "root@web01@127.0.0.1:\(remote)"])
                #expect(up.status == 0, "\(mode) upload: \(up)")
                let down = try await ProcessRunner.run("scp", alice.clientOptions(useCertificate: true) + flags + ["-P", port, "root@web01@127.0.0.1:\(remote)", back])
                #expect(down.status == 0, "\(mode) download: \(down)")
                #expect(try await RelayTests.sha256(back) == digest)
                let upload = try await Self.record(bastion, "file.close") { $0["protocol"] == mode && $0["bytes_written"] == "1500000" && $0["path"]?.hasPrefix(remote) == true }
                #expect(upload?["sha256"] == digest, "\(mode): no upload record with the file's digest")
                let download = try await Self.record(bastion, "file.close") { $0["protocol"] == mode && $0["bytes_read"] == "1500000" && $0["path"]?.hasPrefix(remote) == true }
                #expect(download?["sha256"] == digest, "\(mode): no download record with the file's digest")
            }
        }
    }

    @Test("a download-only role: get works, put is refused with Permission denied and audited, scp -O upload refused at start")
    func downloadOnly() async throws {
        try await withRelay(extraConfig: Self.roles) { bastion, _ in
            let bob = try await bastion.enroll("bob", roles: ["reader"])
            try await bob.fetchCertificate()
            let source = try Self.payload(bastion, "data.bin", size: 100_000)
            let fetched = bastion.directory.file("fetched.bin")
            let get = try await Self.sftp(bob, bastion, batch: ["get \(source) \(fetched)"])
            #expect(get.status == 0, "\(get)")
            #expect(try await RelayTests.sha256(fetched) == (try await RelayTests.sha256(source)))

            let target = bastion.directory.file("must-not-exist.bin")
            let put = try await Self.sftp(bob, bastion, batch: ["put \(source) \(target)"])
            #expect(put.status != 0)
            // OpenSSH's sftp prints the status code's words, not the server's message text.
            #expect(put.stderr.contains("Permission denied"), "\(put)")
            #expect(!FileManager.default.fileExists(atPath: target), "the refused upload reached the target")
            let refused = try await Self.record(bastion, "file.refused") { $0["path"] == target }
            #expect(refused?["file_transfer"] == "download")

            let mkdir = try await Self.sftp(bob, bastion, batch: ["mkdir \(target).d"])
            #expect(mkdir.status != 0)
            #expect(!FileManager.default.fileExists(atPath: target + ".d"))

            let port = String(bastion.endpoints.sshPort)
            let scp = try await ProcessRunner.run("scp", bob.clientOptions(useCertificate: true) + ["-O", "-P", port, source, "root@web01@127.0.0.1:\(target)"])
            #expect(scp.status != 0)
            #expect(scp.stderr.contains("bastion: your role may only download files"), "\(scp)")
            #expect(!FileManager.default.fileExists(atPath: target))
            #expect(try await Self.record(bastion, "file.refused") { $0["operation"] == "scp upload" } != nil)
        }
    }

    /// `rsync ARGUMENTS` with ssh through Bastion as its remote shell.
    static func rsync(_ engineer: Engineer, _ bastion: BastionHarness, _ arguments: [String]) async throws -> ProcessRunner.Result {
        let shell = (["ssh"] + engineer.clientOptions(useCertificate: true) + ["-p", String(bastion.endpoints.sshPort)]).joined(separator: " ")
        return try await ProcessRunner.run("rsync", ["-e", shell] + arguments, timeout: 60)
    }

    @Test("rsync: a download-only role fetches but cannot send nor move files off the target; deny refuses both ways; each refusal one line and a record")
    func rsyncUnderThePolicy() async throws {
        try await withRelay(extraConfig: Self.roles) { bastion, _ in
            let bob = try await bastion.enroll("bob", roles: ["reader"])
            try await bob.fetchCertificate()
            let source = try Self.payload(bastion, "tree.bin", size: 70_000)
            let fetched = bastion.directory.file("fetched-by-rsync.bin")
            let get = try await Self.rsync(bob, bastion, ["-a", "root@web01@127.0.0.1:\(source)", fetched])
            #expect(get.status == 0, "\(get)")
            #expect(try await RelayTests.sha256(fetched) == (try await RelayTests.sha256(source)))

            let target = bastion.directory.file("rsync-must-not-exist.bin")
            let put = try await Self.rsync(bob, bastion, ["-a", source, "root@web01@127.0.0.1:\(target)"])
            #expect(put.status != 0)
            #expect(put.stderr.contains("bastion: your role may only download files"), "\(put)")
            #expect(!FileManager.default.fileExists(atPath: target), "the refused upload reached the target")
            let upload = try await Self.record(bastion, "file.refused") { $0["operation"] == "rsync upload" }
            #expect(upload?["path"] == target && upload?["file_transfer"] == "download", "\(String(describing: upload))")

            // Downloading with --remove-source-files deletes on the target: not a download right.
            let move = try await Self.rsync(bob, bastion, ["-a", "--remove-source-files", "root@web01@127.0.0.1:\(source)", fetched + ".moved"])
            #expect(move.status != 0)
            #expect(FileManager.default.fileExists(atPath: source), "a download-only role removed the source")
            #expect(try await Self.record(bastion, "file.refused") { $0["operation"] == "rsync download --remove-source-files" } != nil)

            let carol = try await bastion.enroll("carol", roles: ["nofiles"])
            try await carol.fetchCertificate()
            let denied = try await Self.rsync(carol, bastion, ["-a", "root@web01@127.0.0.1:\(source)", bastion.directory.file("carol.bin")])
            #expect(denied.status != 0)
            #expect(denied.stderr.contains("bastion: your role may not transfer files"), "\(denied)")
            #expect(try await Self.record(bastion, "file.refused") { $0["operation"] == "rsync download" && $0["file_transfer"] == "deny" } != nil)
        }
    }

    @Test(
        "sudo in front of the server does not get around the policy: sftp -s \"sudo …/sftp-server\" is parsed and refused, rsync --rsync-path=\"sudo rsync\" refused",
        .enabled(if: (try? ProcessRunner.runBlocking("sudo", ["-n", "true"]).status) == 0)
    )
    func sudoServers() async throws {
        try await withRelay(extraConfig: Self.roles) { bastion, _ in
            let bob = try await bastion.enroll("bob", roles: ["reader"])
            try await bob.fetchCertificate()
            let source = try Self.payload(bastion, "sudo.bin", size: 5_000)
            let target = bastion.directory.file("sudo-must-not-exist.bin")
            let put = try await Self.sftp(bob, bastion, batch: ["put \(source) \(target)"], extra: ["-s", "sudo -n /usr/lib/openssh/sftp-server"])
            #expect(put.status != 0)
            #expect(put.stderr.contains("Permission denied"), "\(put)")
            #expect(!FileManager.default.fileExists(atPath: target), "an upload under sudo reached the target")
            #expect(try await Self.record(bastion, "file.refused") { $0["path"] == target } != nil)
            // Reading through the same server still works, file by file.
            let get = try await Self.sftp(bob, bastion, batch: ["get \(source) \(target).got"], extra: ["-s", "sudo -n /usr/lib/openssh/sftp-server"])
            #expect(get.status == 0, "\(get)")
            #expect(try await Self.record(bastion, "file.close") { $0["path"] == source } != nil)

            let rsync = try await Self.rsync(bob, bastion, ["-a", "--rsync-path=sudo -n rsync", source, "root@web01@127.0.0.1:\(target)"])
            #expect(rsync.status != 0)
            #expect(rsync.stderr.contains("bastion: your role may only download files"), "\(rsync)")
            #expect(!FileManager.default.fileExists(atPath: target))
        }
    }

    @Test("file_transfer = deny refuses the sftp subsystem at start, with one line")
    func denyRole() async throws {
        try await withRelay(extraConfig: Self.roles) { bastion, _ in
            let carol = try await bastion.enroll("carol", roles: ["nofiles"])
            try await carol.fetchCertificate()
            let source = try Self.payload(bastion, "x.bin", size: 10)
            let put = try await Self.sftp(carol, bastion, batch: ["put \(source) \(bastion.directory.file("y.bin"))"])
            #expect(put.status != 0)
            #expect(try await Self.record(bastion, "file.refused") { $0["operation"] == "sftp" } != nil)
            // A shell command is still a shell command.
            let echo = try await carol.ssh(["echo still-here"], user: "root@web01", answer: .none, useCertificate: true)
            #expect(echo.stdout == "still-here\n", "\(echo)")
        }
    }

    @Test("recording.capture_streams keeps an exec channel's stdin, stdout and stderr exactly, sealed; recording streams writes them back")
    func captureStreams() async throws {
        try await withRelay(configure: { $0.recording.captureStreams = true }) { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let input = try Self.payload(bastion, "stdin.bin", size: 300_000)
            let output = try Self.payload(bastion, "stdout.bin", size: 500_001)
            let result = try await ProcessRunner.run(
                "ssh", alice.clientOptions(useCertificate: true) + ["-p", String(bastion.endpoints.sshPort), "root@web01@127.0.0.1", "sha256sum >&2; cat \(output)"],
                input: try Data(contentsOf: URL(fileURLWithPath: input)), timeout: 60
            )
            #expect(result.status == 0, "\(result)")
            let inputDigest = try await RelayTests.sha256(input)
            let outputDigest = try await RelayTests.sha256(output)
            let end = try #require(try await Self.record(bastion, "session.end") { $0["stdin_bytes"] == "300000" })
            #expect(end["stdin_sha256"] == inputDigest)
            #expect(end["stdout_sha256"] == outputDigest)
            let capture = try #require(end["streams_file"])
            // Sealed at rest like the recording: no plaintext of what crossed.
            let raw = try Data(contentsOf: URL(fileURLWithPath: capture))
            #expect(raw.prefix(8) == Data("BASTREC\0".utf8), "the stream capture is not sealed")
            #expect(raw.range(of: try Data(contentsOf: URL(fileURLWithPath: output)).subdata(in: 1000..<1064)) == nil)
            #expect(end["streams_sha256"] == (try await RelayTests.sha256(capture)))

            let config = bastion.directory.file("cli.toml")
            try BastionHarness.configText(in: bastion.directory).write(toFile: config, atomically: true, encoding: .utf8)
            let id = try #require(end["session_id"])
            let out = bastion.directory.file("streams-out")
            let exported = try await BastiondBinary.run(["recording", "streams", id, "--to", out, "--config", config])
            #expect(exported.status == 0, "\(exported)")
            #expect(try await RelayTests.sha256(out + "/stdin") == inputDigest)
            #expect(try await RelayTests.sha256(out + "/stdout") == outputDigest)
            #expect((try? String(contentsOfFile: out + "/stderr", encoding: .utf8))?.hasPrefix(inputDigest) == true)
            #expect(try await Self.record(bastion, "recording.export") { $0["streams"] != nil } != nil)
            // A second export never replaces the first.
            let again = try await BastiondBinary.run(["recording", "streams", id, "--to", out, "--config", config])
            #expect(again.status != 0)
        }
    }
}
