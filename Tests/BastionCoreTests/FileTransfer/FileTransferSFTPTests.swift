import BastionCrypto
import Testing

@testable import BastionCore

@Suite("SFTP session")
struct FileTransferSFTPTests {
    typealias W = SFTPTestWire
    static let handle: [UInt8] = [0, 0, 0, 7]
    static let writeFlags: UInt32 = 0x02 | 0x08 | 0x10

    /// A whole upload: INIT, OPEN for write, WRITEs of 32 KiB, CLOSE, each confirmed.
    static func upload(_ content: [UInt8], path: String = "/srv/up.bin") -> (client: [[UInt8]], target: [[UInt8]]) {
        var client = [W.initialize, W.open(1, path, flags: writeFlags)]
        var target = [W.version, W.handle(1, handle)]
        var id: UInt32 = 2
        for offset in stride(from: 0, to: content.count, by: 32768) {
            client.append(W.write(id, handle, offset: UInt64(offset), Array(content[offset ..< min(content.count, offset + 32768)])))
            target.append(W.status(id, 0))
            id += 1
        }
        client.append(W.close(id, handle))
        target.append(W.status(id, 0))
        return (client, target)
    }

    /// A whole download: READs of 32 KiB answered by DATA, then EOF and CLOSE.
    static func download(_ content: [UInt8], path: String = "/etc/big") -> (client: [[UInt8]], target: [[UInt8]]) {
        var client = [W.initialize, W.open(1, path, flags: 0x01)]
        var target = [W.version, W.handle(1, handle)]
        var id: UInt32 = 2
        for offset in stride(from: 0, to: content.count, by: 32768) {
            client.append(W.read(id, handle, offset: UInt64(offset), length: 32768))
            target.append(W.data(id, Array(content[offset ..< min(content.count, offset + 32768)])))
            id += 1
        }
        client.append(W.read(id, handle, offset: UInt64(content.count), length: 32768))
        target.append(W.status(id, 1, "End of file"))
        client.append(W.close(id + 1, handle))
        target.append(W.status(id + 1, 0))
        return (client, target)
    }

    /// Plays a conversation request by request (each reply after its request), as a relay sees it.
    static func play(_ conversation: (client: [[UInt8]], target: [[UInt8]]), _ harness: inout SFTPHarness) {
        for (request, reply) in zip(conversation.client, conversation.target) {
            harness.client(request)
            harness.target(reply)
        }
    }

    @Test(arguments: [1, 7, 4096, Int.max])
    func wholeUploadIsHashedWhateverTheSplit(chunk: Int) throws {
        let content = W.content(100_000)
        let conversation = Self.upload(content)
        var harness = SFTPHarness(chunk: chunk)
        Self.play(conversation, &harness)
        #expect(harness.errors.isEmpty)
        let sameToTarget = harness.toTarget == conversation.client.flatMap { $0 }
        let sameToClient = harness.toClient == conversation.target.flatMap { $0 }
        #expect(sameToTarget)
        #expect(sameToClient)
        try #require(harness.operations.count == 2)
        #expect(harness.operations[0] == FileOperation(kind: .open, path: "/srv/up.bin", flags: "write,create,truncate"))
        let close = harness.operations[1]
        #expect(close.kind == .close)
        #expect(close.bytesWritten == 100_000)
        #expect(close.bytesRead == 0)
        #expect(close.sha256 == Hex.string(SHA256.hash(content)))
        #expect(close.sha256Status == .complete)
        #expect(close.succeeded)
        #expect(harness.session.finish().isEmpty)
    }

    @Test(arguments: [1, 5, 32772, Int.max])
    func wholeDownloadIsHashedWhateverTheSplit(chunk: Int) throws {
        let content = W.content(200_003, seed: 9)
        let conversation = Self.download(content)
        var harness = SFTPHarness(policy: .download, chunk: chunk)
        // After the handshake and the open, every request first, then every reply: a
        // pipelining client.
        Self.play((Array(conversation.client.prefix(2)), Array(conversation.target.prefix(2))), &harness)
        for request in conversation.client.dropFirst(2) { harness.client(request) }
        for reply in conversation.target.dropFirst(2) { harness.target(reply) }
        #expect(harness.errors.isEmpty)
        let sameToTarget = harness.toTarget == conversation.client.flatMap { $0 }
        let sameToClient = harness.toClient == conversation.target.flatMap { $0 }
        #expect(sameToTarget)
        #expect(sameToClient)
        try #require(harness.operations.count == 2)
        let close = harness.operations[1]
        #expect(close == {
            var expected = FileOperation(kind: .close, path: "/etc/big", flags: "read")
            expected.bytesRead = 200_003
            expected.sha256 = Hex.string(SHA256.hash(content))
            expected.sha256Status = .complete
            return expected
        }())
        #expect(close.details["bytes_read"] == "200003")
        #expect(close.details["sha256_status"] == "complete")
    }

    @Test func wholePacketsPassUncopiedInOneChunk() {
        var session = SFTPSession(policy: .allow)
        let stream = W.initialize + W.open(1, "/a", flags: 1)
        let step = session.fromClient(stream)
        #expect(step.toTarget == stream)
        #expect(step.toClient.isEmpty)
    }

    @Test func outOfOrderDataWithinTheWindowIsStillHashed() throws {
        let content = W.content(32768 * 3 + 100, seed: 3)
        var harness = SFTPHarness()
        harness.client(W.initialize + W.open(1, "/f", flags: 1))
        harness.target(W.version + W.handle(1, Self.handle))
        let pieces = stride(from: 0, to: content.count, by: 32768).map { Array(content[$0 ..< min(content.count, $0 + 32768)]) }
        for (index, _) in pieces.enumerated() {
            harness.client(W.read(UInt32(10 + index), Self.handle, offset: UInt64(index * 32768), length: 32768))
        }
        // Replies in the order 3, 1, 0, 2.
        for index in [3, 1, 0, 2] { harness.target(W.data(UInt32(10 + index), pieces[index])) }
        harness.client(W.close(20, Self.handle))
        harness.target(W.status(20, 0))
        #expect(harness.errors.isEmpty)
        let close = try #require(harness.operations.last)
        #expect(close.sha256 == Hex.string(SHA256.hash(content)))
        #expect(close.bytesRead == UInt64(content.count))
    }

    @Test func aShortReadAskedAgainIsStillSequential() throws {
        // sftp asks again for the rest of a short read, after later offsets were answered.
        let content = W.content(40000, seed: 4)
        var harness = SFTPHarness()
        harness.client(W.initialize + W.open(1, "/f", flags: 1))
        harness.target(W.version + W.handle(1, Self.handle))
        harness.client(W.read(2, Self.handle, offset: 0, length: 32768) + W.read(3, Self.handle, offset: 32768, length: 32768))
        harness.target(W.data(2, Array(content[0 ..< 1000])) + W.data(3, Array(content[32768...])))
        harness.client(W.read(4, Self.handle, offset: 1000, length: 31768))
        harness.target(W.data(4, Array(content[1000 ..< 32768])))
        harness.client(W.close(5, Self.handle))
        harness.target(W.status(5, 0))
        #expect(harness.operations.last?.sha256 == Hex.string(SHA256.hash(content)))
    }

    @Test func overlapOrOverflowGivesUpTheDigestButKeepsTheCounts() throws {
        var harness = SFTPHarness()
        harness.client(W.initialize + W.open(1, "/f", flags: 1))
        harness.target(W.version + W.handle(1, Self.handle))
        harness.client(W.read(2, Self.handle, offset: 0, length: 10) + W.read(3, Self.handle, offset: 0, length: 10))
        harness.target(W.data(2, Array(repeating: 1, count: 10)) + W.data(3, Array(repeating: 1, count: 10)))
        harness.client(W.close(4, Self.handle))
        harness.target(W.status(4, 0))
        let close = try #require(harness.operations.last)
        #expect(close.sha256 == nil)
        #expect(close.sha256Status == .nonSequential)
        #expect(close.bytesRead == 20)
        #expect(close.details["sha256"] == nil)
        #expect(close.details["sha256_status"] == "non-sequential")

        // More than the 8 MiB window ahead of a gap at offset 0.
        var ahead = SFTPHarness()
        ahead.client(W.initialize + W.open(1, "/g", flags: 1))
        ahead.target(W.version + W.handle(1, Self.handle))
        let piece = [UInt8](repeating: 7, count: 65536)
        let count = SequentialDigest.fileWindowByteCount / piece.count + 1
        for index in 0 ..< count {
            ahead.client(W.read(UInt32(100 + index), Self.handle, offset: UInt64(1 + index * piece.count), length: 65536))
            ahead.target(W.data(UInt32(100 + index), piece))
        }
        ahead.client(W.close(5, Self.handle))
        ahead.target(W.status(5, 0))
        #expect(ahead.operations.last?.sha256Status == .nonSequential)
        #expect(ahead.operations.last?.bytesRead == UInt64(count * piece.count))
        #expect(ahead.session.budget.used == 0)
    }

    @Test func aDeniedOpenIsAnsweredBetweenTargetPacketsNeverInsideOne() throws {
        var harness = SFTPHarness(policy: .download)
        harness.client(W.initialize + W.open(1, "/f", flags: 1))
        harness.target(W.version + W.handle(1, Self.handle))
        harness.client(W.read(2, Self.handle, offset: 0, length: 50000))
        let data = W.data(2, W.content(50000))
        // Half a DATA packet from the target: nothing reaches the client yet.
        let before = harness.toClient.count
        harness.target(Array(data[..<20000]))
        #expect(harness.toClient.count == before)
        // The client asks to write meanwhile: refused at once, between packets.
        let targetBefore = harness.toTarget.count
        harness.client(W.open(3, "/etc/passwd", flags: Self.writeFlags))
        #expect(harness.toTarget.count == targetBefore)
        #expect(Array(harness.toClient[before...]) == W.refusal(3))
        harness.target(Array(data[20000...]))
        let packets = try #require(W.packets(harness.toClient))
        let refusalThenData = packets.suffix(2) == [W.refusal(3), data]
        #expect(refusalThenData)
        let denied = try #require(harness.operations.last)
        #expect(denied.kind == .open)
        #expect(denied.path == "/etc/passwd")
        #expect(denied.flags == "write,create,truncate")
        #expect(denied.denied?.contains("download") == true)
        #expect(!denied.succeeded)
    }

    @Test func aDeniedRequestInTheMiddleOfAChunkKeepsTheOthers() {
        var harness = SFTPHarness(policy: .download)
        harness.client(W.initialize)
        let before = W.path(17, 2, "/a")
        let after = W.path(16, 4, ".")
        harness.client(before + W.path(13, 3, "/a") + after)
        #expect(harness.toTarget == W.initialize + before + after)
        #expect(harness.toClient == W.refusal(3))
        #expect(harness.operations.map(\.kind) == [.remove])
    }

    static let modifications: [(request: [UInt8], kind: FileOperation.Kind, path: String, second: String?)] = [
        (W.twoPaths(18, 10, "/a", "/b"), .rename, "/a", "/b"),
        (W.path(13, 11, "/c"), .remove, "/c", nil),
        (W.packet(14, id: 12) { $0.string("/d"); $0.uint32(0) }, .mkdir, "/d", nil),
        (W.path(15, 13, "/e"), .rmdir, "/e", nil),
        (W.packet(9, id: 14) { $0.string("/f"); $0.uint32(4); $0.uint32(0o600) }, .setstat, "/f", nil),
        (W.twoPaths(20, 15, "target", "/link"), .symlink, "target", "/link"),
        (W.extended(16, "posix-rename@openssh.com", ["/g", "/h"]), .rename, "/g", "/h"),
        (W.extended(17, "hardlink@openssh.com", ["/i", "/j"]), .hardlink, "/i", "/j"),
        (W.packet(200, id: 18) { $0.string("lsetstat@openssh.com"); $0.string("/k"); $0.uint32(0) }, .setstat, "/k", nil),
    ]

    @Test(arguments: [FileTransferPolicy.allow, .upload])
    func modificationsAreReportedWhenTheTargetConfirms(policy: FileTransferPolicy) {
        var harness = SFTPHarness(policy: policy)
        harness.client(W.initialize)
        harness.target(W.version)
        for (index, modification) in Self.modifications.enumerated() {
            harness.client(modification.request)
            #expect(harness.operations.count == index)
            // The rmdir fails on the target.
            harness.target(modification.kind == .rmdir ? W.status(UInt32(10 + index), 4, "Failure") : W.status(UInt32(10 + index), 0))
        }
        #expect(harness.errors.isEmpty)
        #expect(harness.toTarget == W.initialize + Self.modifications.flatMap(\.request))
        #expect(harness.operations.map(\.kind) == Self.modifications.map(\.kind))
        #expect(harness.operations.map(\.path) == Self.modifications.map(\.path))
        #expect(harness.operations.map(\.secondPath) == Self.modifications.map(\.second))
        #expect(harness.operations.filter(\.succeeded).count == Self.modifications.count - 1)
        let failed = harness.operations.first { !$0.succeeded }
        #expect(failed?.kind == .rmdir)
        #expect(failed?.failure == "Failure (status 4)")
        #expect(failed?.denied == nil)
        #expect(harness.operations[0].details == ["path": "/a", "to": "/b"])
    }

    @Test func downloadRefusesEveryModification() throws {
        var harness = SFTPHarness(policy: .download)
        harness.client(W.initialize)
        harness.target(W.version)
        harness.client(Self.modifications.flatMap(\.request))
        #expect(harness.toTarget == W.initialize)
        let statuses = try #require(W.packets(harness.toClient)).dropFirst()
        #expect(Array(statuses) == (0 ..< Self.modifications.count).map { W.refusal(UInt32(10 + $0)) })
        #expect(harness.operations.map(\.kind) == Self.modifications.map(\.kind))
        #expect(harness.operations.allSatisfy { $0.denied != nil })
    }

    @Test func uploadRefusesReading() throws {
        var harness = SFTPHarness(policy: .upload)
        harness.client(W.initialize)
        harness.target(W.version)
        // READ, READ|WRITE, and no flag at all (OpenSSH opens that read-only).
        harness.client(W.open(1, "/r", flags: 1) + W.open(2, "/rw", flags: 3) + W.open(3, "/none", flags: 0))
        harness.client(W.read(4, [9], offset: 0, length: 10))
        let allowed = W.open(5, "/w", flags: Self.writeFlags) + W.path(17, 6, "/w") + W.path(11, 7, "/")
        harness.client(allowed)
        #expect(harness.toTarget == W.initialize + allowed)
        #expect(W.packets(harness.toClient)?.count == 1 + 4)
        #expect(harness.operations.map(\.kind) == [.open, .open, .open, .other])
        #expect(harness.operations.map(\.flags) == ["read", "read,write", "none", nil])
        #expect(harness.operations[3].request == "read")
        #expect(harness.operations[3].details == ["request": "read"])
    }

    @Test func denyRefusesEverythingButTheHandshake() throws {
        var harness = SFTPHarness(policy: .deny)
        harness.client(W.initialize)
        harness.target(W.version)
        harness.client(W.path(16, 1, ".") + W.path(17, 2, "/") + W.open(3, "/f", flags: 1))
        #expect(harness.toTarget == W.initialize)
        #expect(W.packets(harness.toClient)?.count == 1 + 3)
        #expect(harness.operations.map(\.kind) == [.other, .other, .open])
        #expect(harness.operations.map(\.request) == ["realpath", "stat", nil])
    }

    @Test func extensionsOutsideTheReadOnlyListPassOnlyUnderAllow() {
        var download = SFTPHarness(policy: .download)
        download.client(W.initialize)
        let statvfs = W.extended(1, "statvfs@openssh.com", ["/"])
        let copy = W.packet(200, id: 2) { $0.string("copy-data"); $0.string([1]); $0.uint64(0); $0.uint64(0); $0.string([2]); $0.uint64(0) }
        download.client(statvfs + copy + W.packet(99, id: 3))
        #expect(download.toTarget == W.initialize + statvfs)
        #expect(download.operations.map(\.request) == ["copy-data", "type 99"])

        var allow = SFTPHarness(policy: .allow)
        allow.client(W.initialize + statvfs + copy + W.packet(99, id: 3))
        #expect(allow.toTarget == W.initialize + statvfs + copy + W.packet(99, id: 3))
        #expect(allow.operations.isEmpty)
    }

    @Test func failedOpensAndWritesAreReported() throws {
        var harness = SFTPHarness()
        harness.client(W.initialize + W.open(1, "/etc/shadow", flags: 1))
        harness.target(W.version + W.status(1, 3, "Permission denied"))
        #expect(harness.operations == [FileOperation(kind: .open, path: "/etc/shadow", flags: "read", failure: "Permission denied (status 3)")])

        harness.client(W.open(2, "/w", flags: Self.writeFlags))
        harness.target(W.handle(2, Self.handle))
        harness.client(W.write(3, Self.handle, offset: 0, [1, 2, 3]) + W.write(4, Self.handle, offset: 3, [4, 5]))
        harness.target(W.status(3, 0) + W.status(4, 4, "No space left on device"))
        harness.client(W.close(5, Self.handle))
        harness.target(W.status(5, 0))
        let close = try #require(harness.operations.last)
        #expect(close.bytesWritten == 3)
        #expect(close.sha256 == nil)
        #expect(close.sha256Status == .writeFailed)
    }

    @Test func readingAndWritingOneHandleHasNoDigest() throws {
        var harness = SFTPHarness()
        harness.client(W.initialize + W.open(1, "/rw", flags: 3))
        harness.target(W.version + W.handle(1, Self.handle))
        harness.client(W.write(2, Self.handle, offset: 0, [1, 2]) + W.read(3, Self.handle, offset: 0, length: 2) + W.close(4, Self.handle))
        harness.target(W.status(2, 0) + W.data(3, [1, 2]) + W.status(4, 0))
        let close = try #require(harness.operations.last)
        #expect(close.sha256Status == .readAndWrite)
        #expect(close.bytesRead == 2 && close.bytesWritten == 2)
    }

    @Test func anEmptyFileHasTheEmptyDigest() throws {
        var harness = SFTPHarness()
        Self.play(Self.upload([]), &harness)
        #expect(harness.operations.last?.sha256 == Hex.string(SHA256.hash([])))
    }

    // MARK: Malformed input

    @Test(arguments: [UInt32(256 * 1024 + 1), 0xFFFF_FFFF, 0])
    func anImpossibleLengthIsAProtocolError(length: UInt32) {
        var session = SFTPSession(policy: .allow)
        _ = session.fromClient(W.initialize)
        var bogus = W.Packet()
        bogus.uint32(length)
        let step = session.fromClient(bogus.bytes + [3, 0, 0])
        #expect(step.protocolError?.code == .invalidField)
        #expect(step.toTarget.isEmpty)
        // Sticky: nothing more passes either way.
        let later = session.fromTarget(W.version)
        #expect(later.protocolError != nil)
        #expect(later.toClient.isEmpty)
    }

    @Test func anOversizedLengthSplitAcrossChunksIsAProtocolError() {
        var session = SFTPSession(policy: .allow)
        _ = session.fromClient([0, 0x10])
        let step = session.fromClient([0, 0, 3])
        #expect(step.protocolError != nil)
    }

    @Test func truncatedFieldsAndBadHandshakesAreProtocolErrors() {
        var truncated = SFTPSession(policy: .allow)
        _ = truncated.fromClient(W.initialize)
        // OPEN whose path claims 100 bytes in a 12-byte packet.
        let step = truncated.fromClient(W.packet(3, id: 1) { $0.uint32(100); $0.uint32(0) })
        #expect(step.protocolError?.code == .truncated)

        var early = SFTPSession(policy: .allow)
        #expect(early.fromClient(W.open(1, "/f", flags: 1)).protocolError != nil)

        var version6 = SFTPSession(policy: .allow)
        _ = version6.fromClient(W.initialize)
        #expect(version6.fromTarget(W.packet(2) { $0.uint32(6) }).protocolError?.code == .unsupportedType)

        var reused = SFTPSession(policy: .allow)
        _ = reused.fromClient(W.initialize + W.open(1, "/a", flags: 1))
        #expect(reused.fromClient(W.open(1, "/b", flags: 1)).protocolError != nil)
    }

    @Test func outstandingRequestsAreBounded() {
        var session = SFTPSession(policy: .allow)
        _ = session.fromClient(W.initialize)
        var requests: [UInt8] = []
        for id in 0 ..< UInt32(SFTPSession.maximumOutstandingRequests) { requests += W.path(13, id, "/f") }
        #expect(session.fromClient(requests).protocolError == nil)
        #expect(session.fromClient(W.path(13, 999_999, "/f")).protocolError != nil)
    }

    @Test func unknownHandlesAndUnansweredIdsPassWithoutTracking() {
        var harness = SFTPHarness()
        harness.client(W.initialize + W.read(1, [1, 2, 3], offset: 0, length: 4) + W.close(2, [1, 2, 3]))
        harness.target(W.version + W.data(1, [1]) + W.status(2, 0) + W.status(77, 0))
        #expect(harness.errors.isEmpty)
        #expect(harness.operations.isEmpty)
    }

    @Test func finishClosesWhatIsStillOpen() throws {
        var harness = SFTPHarness()
        harness.client(W.initialize + W.open(1, "/f", flags: Self.writeFlags))
        harness.target(W.version + W.handle(1, Self.handle))
        harness.client(W.write(2, Self.handle, offset: 0, [1, 2, 3, 4]))
        harness.client(W.path(13, 3, "/gone"))
        // Half a WRITE, never completed: it never reached the target.
        let half = W.write(4, Self.handle, offset: 4, [5, 6, 7, 8])
        harness.client(Array(half.prefix(10)))
        harness.target(Array(W.status(2, 0).prefix(6)))
        let finished = harness.session.finish()
        #expect(finished.map(\.kind) == [.remove, .close])
        #expect(finished[0].failure == SFTPSession.unanswered)
        let close = finished[1]
        #expect(close.failure == "channel ended before close")
        #expect(close.bytesWritten == 4)
        #expect(close.sha256 == Hex.string(SHA256.hash([1, 2, 3, 4])))
        #expect(harness.toTarget.count == (W.initialize + W.open(1, "/f", flags: Self.writeFlags) + W.write(2, Self.handle, offset: 0, [1, 2, 3, 4]) + W.path(13, 3, "/gone")).count)
    }

    @Test func fuzzedStreamsNeverTrap() {
        var generator = SystemRandomNumberGenerator()
        for round in 0 ..< 200 {
            var session = SFTPSession(policy: round % 2 == 0 ? .allow : .download)
            _ = session.fromClient(W.initialize)
            _ = session.fromTarget(W.version)
            var noise = W.content(Int.random(in: 0 ..< 600, using: &generator), seed: UInt32(round + 1))
            // Mostly plausible lengths, so the parsers see the inside of packets.
            if noise.count > 8 { noise[0] = 0; noise[1] = 0; noise[2] = 0; noise[3] = UInt8(min(noise.count - 4, 255)) }
            _ = session.fromClient(noise)
            _ = session.fromTarget(noise)
            _ = session.finish()
        }
    }
}
