import BastionCore
import Testing

@Suite("SSH wire encoding (RFC 4251 §5)")
struct KeysWireFormatTests {
    @Test("uint32, uint64, string and bool round trip, big-endian")
    func scalars() throws {
        var writer = SSHWireWriter()
        writer.writeUInt32(0x2960_9a1f)
        writer.writeUInt64(0x0102_0304_0506_0708)
        writer.writeString("ssh")
        writer.writeBool(true)
        #expect(writer.bytes == [0x29, 0x60, 0x9a, 0x1f, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 3, 0x73, 0x73, 0x68, 1])
        var reader = SSHWireReader(writer.bytes)
        #expect(try reader.readUInt32() == 0x2960_9a1f)
        #expect(try reader.readUInt64() == 0x0102_0304_0506_0708)
        #expect(try reader.readUTF8String() == "ssh")
        #expect(try reader.readBool())
        #expect(reader.isAtEnd)
        try reader.expectEnd()
    }

    @Test("mpint examples of RFC 4251 §5", arguments: [
        ([UInt8](), [UInt8]([0, 0, 0, 0])),
        ([0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7], [0, 0, 0, 8, 0x09, 0xa3, 0x78, 0xf9, 0xb2, 0xe3, 0x32, 0xa7]),
        ([0x80], [0, 0, 0, 2, 0x00, 0x80]),
    ])
    func mpint(magnitude: [UInt8], encoded: [UInt8]) throws {
        var writer = SSHWireWriter()
        writer.writeMPInt(magnitude: magnitude)
        #expect(writer.bytes == encoded)
        var reader = SSHWireReader(encoded)
        #expect(try reader.readMPInt() == magnitude)
    }

    @Test("negative and non-minimal mpints are refused")
    func badMPInt() {
        for encoded: [UInt8] in [[0, 0, 0, 2, 0xed, 0xcc], [0, 0, 0, 2, 0x00, 0x7f], [0, 0, 0, 1, 0x00]] {
            var reader = SSHWireReader(encoded)
            #expect(throws: FormatError(.invalidField, "")) { try reader.readMPInt() }
        }
    }

    @Test("name-list examples of RFC 4251 §5")
    func nameList() throws {
        let cases: [([String], [UInt8])] = [
            ([], [0, 0, 0, 0]),
            (["zlib"], [0, 0, 0, 4, 0x7a, 0x6c, 0x69, 0x62]),
            (["zlib", "none"], [0, 0, 0, 9, 0x7a, 0x6c, 0x69, 0x62, 0x2c, 0x6e, 0x6f, 0x6e, 0x65]),
        ]
        for (names, encoded) in cases {
            var writer = SSHWireWriter()
            writer.writeNameList(names)
            #expect(writer.bytes == encoded)
            var reader = SSHWireReader(encoded)
            #expect(try reader.readNameList() == names)
        }
        var empty = SSHWireReader([0, 0, 0, 5, 0x61, 0x2c, 0x2c, 0x62, 0x63])
        #expect(throws: FormatError.self) { try empty.readNameList() }
    }

    @Test("truncated input throws instead of trapping; trailing bytes are detected")
    func truncation() throws {
        var short = SSHWireReader([0, 0, 0, 9, 1, 2])
        #expect(throws: FormatError(.truncated, "")) { try short.readString() }
        var huge = SSHWireReader([0xff, 0xff, 0xff, 0xff])
        #expect(throws: FormatError(.truncated, "")) { try huge.readString() }
        var three = SSHWireReader([1, 2, 3])
        #expect(throws: FormatError(.truncated, "")) { try three.readUInt32() }
        var extra = SSHWireReader([0, 0, 0, 1, 7, 9])
        _ = try extra.readString()
        #expect(throws: FormatError(.trailingBytes, "")) { try extra.expectEnd() }
    }
}
