@testable import BastionCore

/// Builds SFTP v3 packets for tests, length prefix included.
enum SFTPTestWire {
    struct Packet {
        var bytes: [UInt8] = []
        mutating func byte(_ value: UInt8) { bytes.append(value) }
        mutating func uint32(_ value: UInt32) {
            bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }
        mutating func uint64(_ value: UInt64) {
            uint32(UInt32(value >> 32))
            uint32(UInt32(value & 0xFFFF_FFFF))
        }
        mutating func string(_ value: [UInt8]) {
            uint32(UInt32(value.count))
            bytes += value
        }
        mutating func string(_ value: String) { string(Array(value.utf8)) }
        var framed: [UInt8] {
            var length = Packet()
            length.uint32(UInt32(bytes.count))
            return length.bytes + bytes
        }
    }

    static func packet(_ type: UInt8, id: UInt32? = nil, _ fill: (inout Packet) -> Void = { _ in }) -> [UInt8] {
        var packet = Packet()
        packet.byte(type)
        if let id { packet.uint32(id) }
        fill(&packet)
        return packet.framed
    }

    static let initialize = packet(1) { $0.uint32(3) }
    static let version = packet(2) { $0.uint32(3); $0.string("limits@openssh.com"); $0.string("1") }

    static func open(_ id: UInt32, _ path: String, flags: UInt32) -> [UInt8] {
        packet(3, id: id) { $0.string(path); $0.uint32(flags); $0.uint32(0) }
    }
    static func close(_ id: UInt32, _ handle: [UInt8]) -> [UInt8] { packet(4, id: id) { $0.string(handle) } }
    static func read(_ id: UInt32, _ handle: [UInt8], offset: UInt64, length: UInt32) -> [UInt8] {
        packet(5, id: id) { $0.string(handle); $0.uint64(offset); $0.uint32(length) }
    }
    static func write(_ id: UInt32, _ handle: [UInt8], offset: UInt64, _ data: [UInt8]) -> [UInt8] {
        packet(6, id: id) { $0.string(handle); $0.uint64(offset); $0.string(data) }
    }
    static func path(_ type: UInt8, _ id: UInt32, _ path: String) -> [UInt8] { packet(type, id: id) { $0.string(path) } }
    static func twoPaths(_ type: UInt8, _ id: UInt32, _ first: String, _ second: String) -> [UInt8] {
        packet(type, id: id) { $0.string(first); $0.string(second) }
    }
    static func extended(_ id: UInt32, _ name: String, _ strings: [String]) -> [UInt8] {
        packet(200, id: id) { packet in
            packet.string(name)
            for string in strings { packet.string(string) }
        }
    }

    static func status(_ id: UInt32, _ code: UInt32, _ message: String = "", language: String = "") -> [UInt8] {
        packet(101, id: id) { $0.uint32(code); $0.string(message); $0.string(language) }
    }
    /// What Bastion answers a refused request with.
    static func refusal(_ id: UInt32) -> [UInt8] { status(id, 3, "bastion: role test may only download files", language: "en") }
    static func handle(_ id: UInt32, _ handle: [UInt8]) -> [UInt8] { packet(102, id: id) { $0.string(handle) } }
    static func data(_ id: UInt32, _ data: [UInt8]) -> [UInt8] { packet(103, id: id) { $0.string(data) } }

    /// Splits a stream into its packets (length prefix included); nil if it does not end on a
    /// packet boundary.
    static func packets(_ stream: [UInt8]) -> [[UInt8]]? {
        var packets: [[UInt8]] = []
        var index = 0
        while index < stream.count {
            guard stream.count - index >= 4 else { return nil }
            let length = Int(stream[index]) << 24 | Int(stream[index + 1]) << 16 | Int(stream[index + 2]) << 8 | Int(stream[index + 3])
            guard stream.count - index - 4 >= length else { return nil }
            packets.append(Array(stream[index ..< index + 4 + length]))
            index += 4 + length
        }
        return packets
    }

    /// Deterministic test content.
    static func content(_ count: Int, seed: UInt32 = 1) -> [UInt8] {
        var state = seed &* 2_654_435_761 | 1
        return (0 ..< count).map { _ in
            state ^= state << 13
            state ^= state >> 17
            state ^= state << 5
            return UInt8(truncatingIfNeeded: state)
        }
    }
}

/// Feeds streams to a session in chunks and gathers what comes out.
struct SFTPHarness {
    var session: SFTPSession
    var toTarget: [UInt8] = []
    var toClient: [UInt8] = []
    var operations: [FileOperation] = []
    var errors: [FormatError] = []
    var chunk: Int

    init(policy: FileTransferPolicy = .allow, chunk: Int = Int.max) {
        session = SFTPSession(policy: policy, refusalMessage: "bastion: role test may only download files")
        self.chunk = chunk
    }

    mutating func client(_ bytes: [UInt8]) { feed(bytes, fromClient: true) }
    mutating func target(_ bytes: [UInt8]) { feed(bytes, fromClient: false) }

    private mutating func feed(_ bytes: [UInt8], fromClient: Bool) {
        var index = 0
        repeat {
            let end = min(bytes.count, index + max(1, min(chunk, bytes.count - index)))
            let piece = Array(bytes[index ..< end])
            let step = fromClient ? session.fromClient(piece) : session.fromTarget(piece)
            toTarget += step.toTarget
            toClient += step.toClient
            operations += step.operations
            if let error = step.protocolError { errors.append(error) }
            index = end
        } while index < bytes.count
    }
}
