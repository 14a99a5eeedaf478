import BastionCrypto
import Testing

@testable import BastionCore

@Suite("scp session")
struct FileTransferSCPTests {
    /// One side of a lock-step conversation: who speaks and what.
    enum Turn {
        case source([UInt8])
        case sink([UInt8])
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
    static let ack: [UInt8] = [0]

    struct Played {
        var toTarget: [UInt8] = []
        var toClient: [UInt8] = []
        var operations: [FileOperation] = []
        var errors: [FormatError] = []
    }

    /// Feeds the turns in order, in chunks of `chunk` bytes, to the side each belongs to.
    static func play(_ command: String, _ turns: [Turn], chunk: Int = Int.max) throws -> (Played, SCPSession) {
        let parsed = try #require(SCPCommand.parse(command))
        var session = SCPSession(command: parsed)
        var played = Played()
        for turn in turns {
            let (bytes, sourceSide) = switch turn {
            case .source(let bytes): (bytes, true)
            case .sink(let bytes): (bytes, false)
            }
            let fromClient = sourceSide == (parsed.direction == .upload)
            var index = 0
            while index < bytes.count {
                let end = min(bytes.count, index + min(chunk, bytes.count - index))
                let piece = Array(bytes[index ..< end])
                let step = fromClient ? session.fromClient(piece) : session.fromTarget(piece)
                played.toTarget += step.toTarget
                played.toClient += step.toClient
                played.operations += step.operations
                if let error = step.protocolError { played.errors.append(error) }
                index = end
            }
        }
        return (played, session)
    }

    static func close(_ path: String, flags: String, bytes: [UInt8], upload: Bool, name: String? = nil) -> FileOperation {
        var operation = FileOperation(kind: .close, path: path, flags: flags, name: name)
        if upload { operation.bytesWritten = UInt64(bytes.count) } else { operation.bytesRead = UInt64(bytes.count) }
        operation.sha256 = Hex.string(SHA256.hash(bytes))
        operation.sha256Status = .complete
        return operation
    }

    @Test(arguments: [1, 3, Int.max])
    func uploadOfOneFile(chunk: Int) throws {
        let content = SFTPTestWire.content(70_000)
        let turns: [Turn] = [
            .sink(Self.ack),
            .source(Self.bytes("T1700000000 0 1700000000 0\n")), .sink(Self.ack),
            .source(Self.bytes("C0644 70000 report.pdf\n")), .sink(Self.ack),
            .source(content + [0]), .sink(Self.ack),
        ]
        let (played, session) = try Self.play("scp -p -t /srv/inbox/", turns, chunk: chunk)
        #expect(played.errors.isEmpty)
        let forwardedAsSent = played.toTarget == Self.bytes("T1700000000 0 1700000000 0\n") + Self.bytes("C0644 70000 report.pdf\n") + content + [0]
        #expect(forwardedAsSent)
        #expect(played.toClient == [0, 0, 0, 0])
        #expect(played.operations == [
            FileOperation(kind: .open, path: "/srv/inbox/report.pdf", flags: "write,create,truncate"),
            Self.close("/srv/inbox/report.pdf", flags: "write,create,truncate", bytes: content, upload: true),
        ])
        var session2 = session
        #expect(session2.finish().isEmpty)
    }

    @Test func uploadToAPathThatMayBeTheFileKeepsTheName() throws {
        let turns: [Turn] = [.sink(Self.ack), .source(Self.bytes("C0600 2 a.txt\n")), .sink(Self.ack), .source([1, 2, 0]), .sink(Self.ack)]
        let (played, _) = try Self.play("scp -t /tmp/b.txt", turns)
        #expect(played.operations.map(\.path) == ["/tmp/b.txt", "/tmp/b.txt"])
        #expect(played.operations.map(\.name) == ["a.txt", "a.txt"])
        #expect(played.operations[1].details["name"] == "a.txt")
    }

    @Test(arguments: [1, Int.max])
    func recursiveUploadWithDirectories(chunk: Int) throws {
        let one = Self.bytes("one\n"), two = SFTPTestWire.content(5000, seed: 2)
        let turns: [Turn] = [
            .sink(Self.ack),
            .source(Self.bytes("D0755 0 project\n")), .sink(Self.ack),
            .source(Self.bytes("C0644 4 one.txt\n")), .sink(Self.ack), .source(one + [0]), .sink(Self.ack),
            .source(Self.bytes("D0700 0 sub\n")), .sink(Self.ack),
            .source(Self.bytes("C0600 5000 two.bin\n")), .sink(Self.ack), .source(two + [0]), .sink(Self.ack),
            .source(Self.bytes("E\n")), .sink(Self.ack),
            .source(Self.bytes("C0644 0 empty\n")), .sink(Self.ack), .source([0]), .sink(Self.ack),
            .source(Self.bytes("E\n")), .sink(Self.ack),
        ]
        let (played, _) = try Self.play("scp -r -t /srv", turns, chunk: chunk)
        #expect(played.errors.isEmpty)
        let flags = "write,create,truncate"
        #expect(played.operations == [
            FileOperation(kind: .mkdir, path: "/srv/project"),
            FileOperation(kind: .open, path: "/srv/project/one.txt", flags: flags),
            Self.close("/srv/project/one.txt", flags: flags, bytes: one, upload: true),
            FileOperation(kind: .mkdir, path: "/srv/project/sub"),
            FileOperation(kind: .open, path: "/srv/project/sub/two.bin", flags: flags),
            Self.close("/srv/project/sub/two.bin", flags: flags, bytes: two, upload: true),
            FileOperation(kind: .open, path: "/srv/project/empty", flags: flags),
            Self.close("/srv/project/empty", flags: flags, bytes: [], upload: true),
        ])
    }

    @Test(arguments: [1, 2, Int.max])
    func recursiveDownload(chunk: Int) throws {
        let content = SFTPTestWire.content(100_000, seed: 5)
        let turns: [Turn] = [
            .sink(Self.ack),
            .source(Self.bytes("D0755 0 logs\n")), .sink(Self.ack),
            .source(Self.bytes("C0644 100000 app.log\n")), .sink(Self.ack), .source(content + [0]), .sink(Self.ack),
            .source(Self.bytes("E\n")), .sink(Self.ack),
        ]
        let (played, _) = try Self.play("scp -r -f /var/logs/", turns, chunk: chunk)
        #expect(played.errors.isEmpty)
        #expect(played.toTarget == [0, 0, 0, 0, 0])
        #expect(played.operations == [
            FileOperation(kind: .open, path: "/var/logs/app.log", flags: "read"),
            Self.close("/var/logs/app.log", flags: "read", bytes: content, upload: false),
        ])
    }

    @Test func downloadOfGlobsAndErrors() throws {
        let turns: [Turn] = [
            .sink(Self.ack),
            .source(Self.bytes("\u{1}scp: /etc/nothere: No such file or directory\n")),
            .source(Self.bytes("C0644 3 b.log\n")), .sink(Self.bytes("\u{1}scp: b.log: Permission denied\n")),
            .source(Self.bytes("C0644 3 c.log\n")), .sink(Self.ack), .source([1, 2, 3]),
            .source(Self.bytes("\u{1}scp: c.log: Input/output error\n")), .sink(Self.ack),
        ]
        let (played, _) = try Self.play("scp -f /etc/nothere '/var/log/*.log'", turns)
        #expect(played.errors.isEmpty)
        #expect(played.operations.map(\.kind) == [.open, .open, .open, .close])
        #expect(played.operations[0].failure == "scp: /etc/nothere: No such file or directory")
        #expect(played.operations[1].path == "/var/log/b.log")
        #expect(played.operations[1].failure == "scp: b.log: Permission denied")
        #expect(played.operations[2].succeeded)
        #expect(played.operations[3].failure == "scp: c.log: Input/output error")
        #expect(played.operations[3].bytesRead == 3)
    }

    @Test(arguments: ["C0644 3 ../x\n", "C0644 3 a/b\n", "D0755 0 ..\n", "C0644 3 .\n", "C0644 3 \n", "D0755 0 /etc\n"])
    func hostileNamesAreProtocolErrorsAndNeverForwarded(line: String) throws {
        let turns: [Turn] = [.sink(Self.ack), .source(Self.bytes(line)), .sink(Self.ack)]
        for chunk in [1, Int.max] {
            let (played, _) = try Self.play("scp -r -f /srv", turns, chunk: chunk)
            #expect(played.errors.first?.code == .invalidField)
            #expect(played.toClient.isEmpty)
            #expect(played.operations.isEmpty)
        }
    }

    @Test(arguments: ["X\n", "C644 3 a\n", "C0644 x a\n", "C0644 99999999999999999999 a\n", "E extra\n", "T1 0 x 0\n", "C0644 1 a\u{0}b\n"])
    func malformedLinesAreProtocolErrors(line: String) throws {
        let (played, _) = try Self.play("scp -t /srv", [.sink(Self.ack), .source(Self.bytes(line))])
        #expect(played.errors.count == 1)
    }

    @Test func speakingOutOfTurnOrTooLongIsAProtocolError() throws {
        // The source sends before the sink's first acknowledgment.
        let (early, _) = try Self.play("scp -t /srv", [.source(Self.bytes("C0644 1 a\n"))])
        #expect(early.errors.count == 1)
        // A stray acknowledgment.
        let (stray, _) = try Self.play("scp -t /srv", [.sink([0, 0])])
        #expect(stray.errors.count == 1)
        // A control line without end.
        let (long, _) = try Self.play("scp -t /srv", [.sink(Self.ack), .source(Self.bytes("C0644 1 " + String(repeating: "a", count: 9000)))])
        #expect(long.errors.count == 1)
        #expect(long.toTarget.isEmpty)
        // Errors stick.
        let command = try #require(SCPCommand.parse("scp -t /srv"))
        var session = SCPSession(command: command)
        _ = session.fromClient([7])
        #expect(session.fromTarget([0]).protocolError != nil)
    }

    @Test func finishReportsAFileCutShort() throws {
        let turns: [Turn] = [.sink(Self.ack), .source(Self.bytes("C0644 10 a\n")), .sink(Self.ack), .source([1, 2, 3])]
        var (played, session) = try Self.play("scp -t /srv/", turns)
        #expect(played.operations.map(\.kind) == [.open])
        let finished = session.finish()
        #expect(finished.map(\.kind) == [.close])
        #expect(finished[0].bytesWritten == 3)
        #expect(finished[0].failure == "channel ended before the file was complete")
        played.operations = []
    }

    // MARK: Commands and policy

    @Test func commandsAreRecognised() throws {
        let upload = try #require(SCPCommand.parse("scp -r -p -d -t -- -odd"))
        #expect(upload.direction == .upload)
        #expect(upload.recursive && upload.preservesTimes && upload.targetIsDirectory)
        #expect(upload.paths == ["-odd"])
        #expect(SCPCommand.parse("scp -t -- '-odd name'")?.paths == ["-odd name"])
        #expect(SCPCommand.parse("scp -v -f \"my file\" b\\ c")?.paths == ["my file", "b c"])
        #expect(SCPCommand.parse("/usr/bin/scp -f /etc/hosts")?.direction == .download)
        #expect(SCPCommand.parse("scp -rt .")?.path == ".")
        #expect(SCPCommand.parse("scp -t a b") == nil)
        #expect(SCPCommand.parse("scp -t") == nil)
        #expect(SCPCommand.parse("scp -x -t a") == nil)
        #expect(SCPCommand.parse("scp -t -f a") == nil)

        #expect(FileTransferCommand.recognise("ls -l") == nil)
        #expect(FileTransferCommand.recognise("scpx -t a") == nil)
        #expect(FileTransferCommand.recognise("/usr/lib/openssh/sftp-server") == .sftpServer)
        #expect(FileTransferCommand.recognise("scp -t /tmp; rm -rf /") == .unparsedSCP)
        #expect(FileTransferCommand.recognise("scp -t $(id)") == .unparsedSCP)
        #expect(FileTransferCommand.recognise("\"scp\" -t /x; touch y") == .unparsedSCP)
        #expect(FileTransferCommand.recognise("scp -T -t /tmp") == .unparsedSCP)
        #expect(FileTransferCommand.recognise("scp -f '*.log'") == .scp(SCPCommand(arguments: ["-f", "*.log"])!))
    }

    @Test func policyDecidesAtChannelStart() throws {
        let upload = FileTransferCommand.recognise("scp -t /srv")
        let download = FileTransferCommand.recognise("scp -f /srv/a")
        let table: [(FileTransferPolicy, upload: Bool, download: Bool, unparsed: Bool, sftp: Bool)] = [
            (.allow, true, true, true, true), (.download, false, true, false, true),
            (.upload, true, false, false, true), (.deny, false, false, false, false),
        ]
        for row in table {
            #expect(row.0.permits(upload) == row.upload)
            #expect(row.0.permits(download) == row.download)
            #expect(row.0.permits(.unparsedSCP) == row.unparsed)
            #expect(row.0.permits(.sftpServer) == row.sftp)
            #expect(row.0.permitsSFTPSubsystem == row.sftp)
            #expect(row.0.permits(nil))
        }
        #expect(FileTransferPolicy(configurationValue: "download") == .download)
        #expect(FileTransferPolicy(configurationValue: "Download") == nil)
        #expect(FileTransferPolicy.defaultValue == .allow)
        #expect(FileTransferPolicy.download.refusalMessage(role: "ops") == "bastion: role ops may only download files")
    }

    @Test func namesBecomeUnambiguousText() {
        #expect(FileTransferText.path(Array("plain/é.txt".utf8)) == "plain/é.txt")
        #expect(FileTransferText.path([0x61, 0x0A, 0x62]) == "a\\x0ab")
        #expect(FileTransferText.path([0x61, 0xFF, 0xC3, 0xA9]) == "a\\xffé")
    }
}
