/// The numbers of SFTP version 3 (draft-ietf-secsh-filexfer-02, what OpenSSH speaks); the
/// OpenSSH extensions are named in OpenSSH's `PROTOCOL` file (§4).
enum SFTPWire {
    /// OpenSSH's `SFTP_MAX_MSG_LENGTH`: both its client and server refuse longer packets.
    static let maximumPacketLength = 256 * 1024
    /// The one version the machine parses.
    static let version: UInt32 = 3

    enum PacketType {
        static let initialize: UInt8 = 1
        static let version: UInt8 = 2
        static let open: UInt8 = 3
        static let close: UInt8 = 4
        static let read: UInt8 = 5
        static let write: UInt8 = 6
        static let lstat: UInt8 = 7
        static let fstat: UInt8 = 8
        static let setstat: UInt8 = 9
        static let fsetstat: UInt8 = 10
        static let opendir: UInt8 = 11
        static let readdir: UInt8 = 12
        static let remove: UInt8 = 13
        static let mkdir: UInt8 = 14
        static let rmdir: UInt8 = 15
        static let realpath: UInt8 = 16
        static let stat: UInt8 = 17
        static let rename: UInt8 = 18
        static let readlink: UInt8 = 19
        static let symlink: UInt8 = 20
        static let status: UInt8 = 101
        static let handle: UInt8 = 102
        static let data: UInt8 = 103
        static let name: UInt8 = 104
        static let attrs: UInt8 = 105
        static let extended: UInt8 = 200
        static let extendedReply: UInt8 = 201
    }

    enum Status {
        static let ok: UInt32 = 0
        static let eof: UInt32 = 1
        static let permissionDenied: UInt32 = 3
    }

    enum OpenFlag {
        static let read: UInt32 = 0x01
        static let write: UInt32 = 0x02
        static let append: UInt32 = 0x04
        static let create: UInt32 = 0x08
        static let truncate: UInt32 = 0x10
        static let exclusive: UInt32 = 0x20

        /// `"read"`, `"write,create,truncate"`: the flags as audit text, unknown bits in hex.
        static func text(_ flags: UInt32) -> String {
            let names: [(UInt32, String)] = [
                (read, "read"), (write, "write"), (append, "append"), (create, "create"), (truncate, "truncate"), (exclusive, "exclusive"),
            ]
            var parts = names.filter { flags & $0.0 != 0 }.map(\.1)
            let unknown = flags & ~0x3F
            if unknown != 0 { parts.append("0x" + String(unknown, radix: 16)) }
            return parts.isEmpty ? "none" : parts.joined(separator: ",")
        }
    }

    /// Request names for audit records of refused requests.
    static func requestName(_ type: UInt8) -> String {
        switch type {
        case PacketType.open: "open"
        case PacketType.close: "close"
        case PacketType.read: "read"
        case PacketType.write: "write"
        case PacketType.lstat: "lstat"
        case PacketType.fstat: "fstat"
        case PacketType.setstat: "setstat"
        case PacketType.fsetstat: "fsetstat"
        case PacketType.opendir: "opendir"
        case PacketType.readdir: "readdir"
        case PacketType.remove: "remove"
        case PacketType.mkdir: "mkdir"
        case PacketType.rmdir: "rmdir"
        case PacketType.realpath: "realpath"
        case PacketType.stat: "stat"
        case PacketType.rename: "rename"
        case PacketType.readlink: "readlink"
        case PacketType.symlink: "symlink"
        case PacketType.extended: "extended"
        default: "type \(type)"
        }
    }

    /// An `SSH_FXP_STATUS` packet, length prefix included.
    static func statusPacket(id: UInt32, code: UInt32, message: String) -> [UInt8] {
        let text = Array(message.utf8)
        let language = Array("en".utf8)
        var packet: [UInt8] = []
        packet.reserveCapacity(4 + 1 + 4 + 4 + 4 + text.count + 4 + language.count)
        func append(_ value: UInt32) {
            packet.append(UInt8(truncatingIfNeeded: value >> 24))
            packet.append(UInt8(truncatingIfNeeded: value >> 16))
            packet.append(UInt8(truncatingIfNeeded: value >> 8))
            packet.append(UInt8(truncatingIfNeeded: value))
        }
        append(UInt32(1 + 4 + 4 + 4 + text.count + 4 + language.count))
        packet.append(PacketType.status)
        append(id)
        append(code)
        append(UInt32(text.count))
        packet += text
        append(UInt32(language.count))
        packet += language
        return packet
    }
}

/// Reads SFTP fields from one packet's bytes in place, front to back.
///
/// Every read checks bounds and throws instead of trapping: every byte comes from a peer.
/// `string` fields come back as views into the packet, valid as long as the packet's buffer,
/// so DATA and WRITE payloads are hashed where they lie.
struct SFTPPacketReader {
    private let bytes: UnsafeRawBufferPointer
    private var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    mutating func readUInt8() throws(FormatError) -> UInt8 {
        guard offset < bytes.count else { throw FormatError(.truncated, "SFTP packet ends inside a byte field") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func readUInt32() throws(FormatError) -> UInt32 {
        guard bytes.count - offset >= 4 else { throw FormatError(.truncated, "SFTP packet ends inside a uint32") }
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    mutating func readUInt64() throws(FormatError) -> UInt64 {
        let high = try readUInt32()
        let low = try readUInt32()
        return UInt64(high) << 32 | UInt64(low)
    }

    /// A `string` as a view into the packet.
    mutating func readString() throws(FormatError) -> UnsafeRawBufferPointer {
        let length = Int(try readUInt32())
        guard length <= bytes.count - offset else { throw FormatError(.truncated, "SFTP string longer than its packet") }
        defer { offset += length }
        return UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + length])
    }

    /// A `string` as audit text (see ``FileTransferText``).
    mutating func readPath() throws(FormatError) -> String {
        FileTransferText.path(try readString())
    }

    /// A `string` copied out, for handles (a few bytes with OpenSSH).
    mutating func readBytes() throws(FormatError) -> [UInt8] {
        [UInt8](try readString())
    }
}
