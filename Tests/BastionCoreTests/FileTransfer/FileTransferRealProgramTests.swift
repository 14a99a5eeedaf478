import BastionCore
import BastionTesting
import Foundation
import Testing

/// OpenSSH's own `sftp` and `scp -O` talking to their real servers through the machines, live:
/// the client must succeed (so the machines forward what they parse, byte for byte), and
/// every file's digest must be the one `sha256sum` reads on both ends.
private let sftpServer = "/usr/lib/openssh/sftp-server"

@Suite("File transfers with real OpenSSH programs", .serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: sftpServer)))
struct FileTransferRealProgramTests {

    struct Fixture {
        let directory: TemporaryDirectory
        var remote: String { directory.file("remote") }
        var local: String { directory.file("local") }

        init() throws {
            directory = try TemporaryDirectory(prefix: "file-transfer")
            for folder in ["remote", "remote/olddir", "local", "local/tree", "local/tree/sub"] {
                try FileManager.default.createDirectory(atPath: directory.file(folder), withIntermediateDirectories: true)
            }
            try Data(SFTPTestWire.content(300_001, seed: 11)).write(to: URL(fileURLWithPath: directory.file("remote/big.bin")))
            try Data().write(to: URL(fileURLWithPath: directory.file("remote/empty")))
            try Data(SFTPTestWire.content(500_000, seed: 12)).write(to: URL(fileURLWithPath: directory.file("local/upload.bin")))
            try Data("a\n".utf8).write(to: URL(fileURLWithPath: directory.file("local/tree/a.txt")))
            try Data(SFTPTestWire.content(200_000, seed: 13)).write(to: URL(fileURLWithPath: directory.file("local/tree/sub/b.bin")))
            try Data().write(to: URL(fileURLWithPath: directory.file("local/tree/sub/empty")))
        }
    }

    /// Runs `sftp -b` with `batch` through an ``SFTPSession`` under `policy`.
    static func sftp(_ fixture: Fixture, policy: FileTransferPolicy, batch: String) async throws
        -> (ProcessRunner.Result, LiveFileTransferRelay)
    {
        let relay = try LiveFileTransferRelay(directory: fixture.directory.path)
        let bridge = try relay.writeBridge()
        let batchFile = fixture.directory.file("batch")
        try batch.write(toFile: batchFile, atomically: true, encoding: .utf8)
        relay.start(targetDirectory: fixture.remote, targetFor: { _ in [sftpServer] }, machineFor: { _ in SFTPSession(policy: policy) })
        let result = try await ProcessRunner.run("sftp", ["-b", batchFile, "-D", bridge], timeout: 60, currentDirectory: fixture.local)
        let ended = try await offPool { relay.wait(timeout: 60) }
        #expect(ended)
        return (result, relay)
    }

    @Test func sftpFileByFile() async throws {
        let fixture = try Fixture()
        let (result, relay) = try await Self.sftp(
            fixture, policy: .allow,
            batch: """
                cd \(fixture.remote)
                get big.bin big.copy
                get empty empty.copy
                put upload.bin up.bin
                mkdir newdir
                rename up.bin newdir/up.bin
                chmod 600 newdir/up.bin
                symlink newdir/up.bin link
                rm link
                rmdir olddir

                """)
        #expect(result.status == 0, "\(result)")
        #expect(relay.errors.isEmpty)
        let operations = relay.operations
        #expect(relay.finish().isEmpty)
        #expect(operations.allSatisfy { $0.succeeded }, "\(operations)")

        let big = try #require(operations.first { $0.kind == .close && $0.path.hasSuffix("/big.bin") }, "\(operations)")
        #expect(big.bytesRead == 300_001)
        #expect(big.sha256Status == .complete)
        #expect(try await sha256sum(fixture.remote + "/big.bin") == big.sha256)
        #expect(try await sha256sum(fixture.local + "/big.copy") == big.sha256)

        let empty = try #require(operations.first { $0.kind == .close && $0.path.hasSuffix("/empty") })
        #expect(try await sha256sum(fixture.local + "/empty.copy") == empty.sha256)

        let upload = try #require(operations.first { $0.kind == .close && $0.path.hasSuffix("/up.bin") })
        #expect(upload.bytesWritten == 500_000)
        #expect(upload.flags?.contains("write") == true)
        #expect(try await sha256sum(fixture.local + "/upload.bin") == upload.sha256)
        #expect(try await sha256sum(fixture.remote + "/newdir/up.bin") == upload.sha256)

        let kinds = operations.map(\.kind)
        for kind: FileOperation.Kind in [.mkdir, .rename, .setstat, .symlink, .remove, .rmdir] {
            #expect(kinds.contains(kind), "\(kind) missing from \(operations)")
        }
        let rename = try #require(operations.first { $0.kind == .rename })
        #expect(rename.path.hasSuffix("/up.bin") && rename.secondPath?.hasSuffix("/newdir/up.bin") == true)
        #expect(operations.first { $0.kind == .rmdir }?.path.hasSuffix("/olddir") == true)
        #expect(operations.first { $0.kind == .remove }?.path.hasSuffix("/link") == true)
    }

    @Test func sftpDownloadOnlyRoleIsRefusedUploads() async throws {
        let fixture = try Fixture()
        let (result, relay) = try await Self.sftp(
            fixture, policy: .download,
            batch: """
                cd \(fixture.remote)
                -put upload.bin sneaky.bin
                -rm big.bin
                get big.bin big.copy

                """)
        #expect(result.status == 0, "\(result)")
        #expect(result.stderr.contains("Permission denied"), "\(result)")
        #expect(relay.errors.isEmpty)
        let operations = relay.operations
        let refused = operations.filter { $0.denied != nil }
        #expect(refused.map(\.kind) == [.open, .remove], "\(operations)")
        #expect(refused.first?.path.hasSuffix("/sneaky.bin") == true)
        #expect(!FileManager.default.fileExists(atPath: fixture.remote + "/sneaky.bin"))
        #expect(FileManager.default.fileExists(atPath: fixture.remote + "/big.bin"))
        let big = try #require(operations.first { $0.kind == .close && $0.path.hasSuffix("/big.bin") })
        #expect(try await sha256sum(fixture.local + "/big.copy") == big.sha256)
    }

    /// Runs `scp -O -S BRIDGE arguments` (from the fixture's directory) through an ``SCPSession``.
    static func scp(_ fixture: Fixture, _ arguments: [String]) async throws -> (ProcessRunner.Result, LiveFileTransferRelay) {
        let relay = try LiveFileTransferRelay(directory: fixture.directory.path)
        let bridge = try relay.writeBridge()
        relay.start(
            targetDirectory: fixture.remote, targetFor: { ["/bin/sh", "-c", $0] },
            machineFor: { SCPCommand.parse($0).map { SCPSession(command: $0) } })
        let result = try await ProcessRunner.run("scp", ["-O", "-S", bridge] + arguments, timeout: 60, currentDirectory: fixture.directory.path)
        let ended = try await offPool { relay.wait(timeout: 60) }
        #expect(ended)
        return (result, relay)
    }

    @Test func scpRecursiveUpload() async throws {
        let fixture = try Fixture()
        let (result, relay) = try await Self.scp(fixture, ["-r", "-p", "local/tree", "target:\(fixture.remote)/"])
        #expect(result.status == 0, "\(result)")
        #expect(relay.errors.isEmpty, "\(relay.errors)")
        #expect(relay.command == "scp -r -p -t \(fixture.remote)/")
        let operations = relay.operations
        #expect(relay.finish().isEmpty)
        #expect(operations.allSatisfy { $0.succeeded }, "\(operations)")
        let tree = fixture.remote + "/tree"
        #expect(Set(operations.filter { $0.kind == .mkdir }.map(\.path)) == [tree, tree + "/sub"])
        let closes = operations.filter { $0.kind == .close }
        #expect(Set(closes.map(\.path)) == [tree + "/a.txt", tree + "/sub/b.bin", tree + "/sub/empty"])
        for close in closes {
            let relative = String(close.path.dropFirst(fixture.remote.count + 1))
            #expect(try await sha256sum(fixture.local + "/" + relative) == close.sha256, "\(close.path)")
            #expect(try await sha256sum(close.path) == close.sha256)
        }
        #expect(closes.first { $0.path.hasSuffix("b.bin") }?.bytesWritten == 200_000)
    }

    @Test func scpDownload() async throws {
        let fixture = try Fixture()
        let (result, relay) = try await Self.scp(fixture, ["target:\(fixture.remote)/big.bin", "local/got.bin"])
        #expect(result.status == 0, "\(result)")
        #expect(relay.errors.isEmpty, "\(relay.errors)")
        let command = try #require(relay.command)
        #expect(FileTransferCommand.recognise(command) == .scp(SCPCommand(arguments: ["-f", fixture.remote + "/big.bin"])!))
        #expect(!FileTransferPolicy.upload.permits(FileTransferCommand.recognise(command)))
        let operations = relay.operations
        #expect(operations.map(\.kind) == [.open, .close])
        let close = try #require(operations.last)
        #expect(close.path == fixture.remote + "/big.bin")
        #expect(close.bytesRead == 300_001)
        #expect(try await sha256sum(fixture.remote + "/big.bin") == close.sha256)
        #expect(try await sha256sum(fixture.local + "/got.bin") == close.sha256)
    }
}
