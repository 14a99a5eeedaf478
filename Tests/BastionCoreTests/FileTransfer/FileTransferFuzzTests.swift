import BastionCore
import Testing

/// The file transfer parsers read what a hostile client or a hostile target sends, on the
/// relay. Fed mutated conversations (`Mutator`; `make fuzz` runs millions), they must never
/// trap, must answer the same twice, and must keep the policy whatever arrives: a
/// download-only SFTP session forwards no request that could change a file, an upload-only
/// one none that reads.
@Suite("Fuzzed file transfer parsers")
struct FileTransferFuzzTests {
    typealias Wire = SFTPTestWire

    /// A client's side of a session that does everything SFTP can, read and write.
    static let clientConversation: [UInt8] = {
        let handle: [UInt8] = [0, 0, 0, 1]
        return Wire.initialize + Wire.open(1, "/etc/passwd", flags: 0x01) + Wire.read(2, handle, offset: 0, length: 32_768)
            + Wire.close(3, handle) + Wire.open(4, "/tmp/new", flags: 0x02 | 0x08 | 0x10) + Wire.write(5, handle, offset: 0, Wire.content(300))
            + Wire.close(6, handle) + Wire.twoPaths(18, 7, "/tmp/new", "/tmp/old") + Wire.path(14, 8, "/tmp/d") + Wire.path(13, 9, "/tmp/old")
            + Wire.path(15, 10, "/tmp/d") + Wire.twoPaths(20, 11, "/tmp/l", "/etc") + Wire.path(17, 12, "/etc/hosts")
            + Wire.path(16, 13, ".") + Wire.path(11, 14, "/srv") + Wire.extended(15, "posix-rename@openssh.com", ["/a", "/b"])
            + Wire.extended(16, "statvfs@openssh.com", ["/"]) + Wire.extended(17, "copy-data", ["x"])
            + Wire.packet(9, id: 18) { $0.string("/tmp/new"); $0.uint32(0) }
    }()

    /// Opens with every flag beside READ (and without it), unknown bits included: the edge
    /// cases of the open policy, for the mutations to start from.
    static let openFlagsConversation: [UInt8] = Wire.initialize
        + [0x00, 0x01, 0x02, 0x03, 0x05, 0x08, 0x09, 0x10, 0x11, 0x20, 0x21, 0x41, 0x80, 0x8000_0001].enumerated()
        .flatMap { Wire.open(UInt32($0.offset + 1), "/srv/f\($0.offset)", flags: $0.element) }

    /// The target's answers to that conversation.
    static let targetConversation: [UInt8] = {
        let handle: [UInt8] = [0, 0, 0, 1]
        return Wire.version + Wire.handle(1, handle) + Wire.data(2, Wire.content(500)) + Wire.status(3, 0) + Wire.handle(4, handle)
            + Wire.status(5, 0) + Wire.status(6, 0) + Wire.status(7, 0) + Wire.status(8, 0) + Wire.status(9, 2, "no such file")
            + Wire.status(10, 0) + Wire.status(11, 0) + Wire.packet(105, id: 12) { $0.uint32(0) }
    }()

    static let readOnlyExtensions: Set<String> = [
        "statvfs@openssh.com", "fstatvfs@openssh.com", "limits@openssh.com", "expand-path@openssh.com",
        "home-directory", "users-groups-by-id@openssh.com", "fsync@openssh.com",
    ]

    /// Why `packet` (length prefix included) must not reach the target under `policy`, or nil.
    static func violation(_ packet: [UInt8], policy: FileTransferPolicy) -> String? {
        guard packet.count >= 5 else { return "a packet of \(packet.count) bytes" }
        let type = packet[4]
        func uint32(at index: Int) -> UInt32? {
            guard index + 4 <= packet.count else { return nil }
            return packet[index ..< index + 4].reduce(0) { $0 << 8 | UInt32($1) }
        }
        /// The string that starts at `index` and the index after it.
        func string(at index: Int) -> ([UInt8], Int)? {
            guard let length = uint32(at: index), index + 4 + Int(length) <= packet.count else { return nil }
            return (Array(packet[index + 4 ..< index + 4 + Int(length)]), index + 4 + Int(length))
        }
        let modifying: Set<UInt8> = [6, 9, 10, 13, 14, 15, 18, 20]
        switch type {
        case 3:
            guard let (_, next) = string(at: 9), let flags = uint32(at: next) else { return "an OPEN that does not parse" }
            // sftp-server opens a request with neither READ nor WRITE read-only: that is a read.
            if policy == .download, flags & ~0x01 != 0 { return "OPEN with flags \(flags)" }
            if policy == .upload, flags & 0x01 != 0 || flags & 0x02 == 0 { return "OPEN with flags \(flags)" }
        case 5 where policy == .upload:
            return "READ"
        case 200:
            guard let (name, _) = string(at: 9) else { return "an EXTENDED that does not parse" }
            let text = String(decoding: name, as: UTF8.self)
            let modifyingExtensions: Set<String> = ["posix-rename@openssh.com", "hardlink@openssh.com", "lsetstat@openssh.com"]
            if !readOnlyExtensions.contains(text), !(policy == .upload && modifyingExtensions.contains(text)) { return "EXTENDED \(text)" }
        default:
            if policy == .download, modifying.contains(type) { return "request type \(type)" }
        }
        return nil
    }

    /// Feeds `input` to `consume` in pieces of `size` bytes (so packets and lines split
    /// anywhere) until a protocol error stops the machine; returns what the steps passed on
    /// to the side `forward` names.
    static func drive(
        _ input: [UInt8], pieces size: Int, forward: KeyPath<FileTransferStep, [UInt8]>, _ consume: ([UInt8]) -> FileTransferStep
    ) -> [UInt8] {
        var passed: [UInt8] = []
        for start in stride(from: 0, to: input.count, by: size) {
            let step = consume(Array(input[start ..< min(start + size, input.count)]))
            passed += step[keyPath: forward]
            if step.protocolError != nil { break }
        }
        return passed
    }

    /// A piece size from the input's first byte, 1 to 97.
    static func pieceSize(_ input: [UInt8]) -> Int { 1 + Int(input.first ?? 0) % 97 }

    @Test("SFTP from a hostile client: download-only forwards nothing that writes, upload-only nothing that reads, only whole packets")
    func sftpClient() {
        for (policy, seed) in [(FileTransferPolicy.download, UInt64(40)), (.upload, 41)] {
            FuzzTests.fuzz([Self.clientConversation, Self.openFlagsConversation], seed: seed) { input -> [UInt8] in
                var session = SFTPSession(policy: policy)
                let forwarded = Self.drive(input, pieces: Self.pieceSize(input), forward: \.toTarget) { session.fromClient($0) }
                guard let packets = Wire.packets(forwarded) else {
                    Issue.record("\(policy): forwarded a partial packet for \(input)")
                    return forwarded
                }
                for packet in packets {
                    if let violation = Self.violation(packet, policy: policy) { Issue.record("\(policy) forwarded \(violation) for \(input)") }
                }
                _ = session.finish()
                return forwarded
            }
        }
    }

    @Test("SFTP from a hostile target: replies to real requests mutated; never traps, forwards only whole packets")
    func sftpTarget() {
        FuzzTests.fuzz([Self.targetConversation], seed: 42) { input -> [UInt8] in
            var session = SFTPSession(policy: .allow)
            _ = session.fromClient(Self.clientConversation)
            let toClient = Self.drive(input, pieces: Self.pieceSize(input), forward: \.toClient) { session.fromTarget($0) }
            if Wire.packets(toClient) == nil { Issue.record("a partial packet went to the client for \(input)") }
            return toClient + session.finish().map(\.path).joined(separator: "\n").utf8
        }
    }

    @Test("legacy scp both ways: a hostile client's upload and a hostile target's download never trap")
    func scp() throws {
        let upload = try #require(SCPCommand(arguments: ["-r", "-p", "-t", "/srv"]))
        let client = Array("T1800000000 0 1800000000 0\nD0755 0 dir\nC0644 5 a.txt\nhello\0E\nC0600 0 empty\n\0".utf8)
        FuzzTests.fuzz([client], seed: 43) { input -> [UInt8] in
            var session = SCPSession(command: upload)
            _ = session.fromTarget([0])
            // The target acknowledges every piece, as a sink does each line and file.
            let forwarded = Self.drive(input, pieces: 7, forward: \.toTarget) { piece in
                defer { _ = session.fromTarget([0]) }
                return session.fromClient(piece)
            }
            return forwarded + session.finish().map(\.path).joined().utf8
        }
        let download = try #require(SCPCommand(arguments: ["-f", "/srv/*.log"]))
        let target = Array("C0644 11 a.log\nhello world\0C0644 0 b.log\n\0\u{01}scp: /srv/c.log: Permission denied\n".utf8)
        FuzzTests.fuzz([target], seed: 44) { input -> [UInt8] in
            var session = SCPSession(command: download)
            _ = session.fromClient([0])
            let toClient = Self.drive(input, pieces: 5, forward: \.toClient) { piece in
                defer { _ = session.fromClient([0]) }
                return session.fromTarget(piece)
            }
            return toClient + session.finish().map(\.path).joined().utf8
        }
    }

    @Test("exec command lines: scp, sftp-server and rsync lines, quoted, with sudo, mutated")
    func commandLines() {
        let lines = [
            "scp -r -p -t -- '/srv/a b'", "scp -f \"x y\" z\\ w", "/usr/lib/openssh/sftp-server", "sudo -n -u root /usr/lib/openssh/sftp-server",
            "rsync --server --sender -logDtpre.iLsfxCIvu --backup-dir b\\ k --remove-source-files . src", "rsync --server -e.LsfxCIvu . d\\ st/",
            "sudo rsync --server --daemon .",
        ]
        FuzzTests.fuzz(lines.map { Array($0.utf8) }, seed: 45) { bytes -> [Bool] in
            let command = FileTransferCommand.recognise(String(decoding: bytes, as: UTF8.self))
            return FileTransferPolicy.allCases.map { $0.permits(command) }
        }
    }
}
