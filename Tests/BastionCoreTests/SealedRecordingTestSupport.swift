import BastionCrypto
import BastionCore

/// A small sealed file with known chunk boundaries, built with fixed inputs so failures
/// reproduce.
struct SealedFixture {
    static let key = fixedKey(0x42)
    static let wrappedKey = Array("wrapped-by-kms".utf8)

    let file: [UInt8]
    let headerByteCount: Int
    /// File offsets just past each chunk.
    let chunkEnds: [Int]
    /// Plaintext of each chunk, in order.
    let plaintexts: [[UInt8]]
    let plaintextSHA256: [UInt8]

    /// Header plus one chunk per entry of `lines`, the last one final.
    init(lines: [String], key: SymmetricKey = Self.key, fileID: UInt8 = 7, masterKeyVersion: UInt32 = 3) throws {
        let writer = try SealedRecordingWriter(
            dataKey: key, wrappedKey: Self.wrappedKey, masterKeyVersion: masterKeyVersion,
            fileID: [UInt8](repeating: fileID, count: 16)
        )
        var file = writer.header.encoded
        headerByteCount = file.count
        var ends: [Int] = []
        for (index, line) in lines.enumerated() {
            let bytes = Array(line.utf8)
            file += index == lines.count - 1 ? try writer.finish(bytes) : try writer.seal(bytes)
            ends.append(file.count)
        }
        self.file = file
        chunkEnds = ends
        plaintexts = lines.map { Array($0.utf8) }
        plaintextSHA256 = writer.plaintextSHA256 ?? []
    }

    /// The standard three-chunk file: an asciicast header line and two events.
    static func threeChunks(key: SymmetricKey = Self.key, fileID: UInt8 = 7, masterKeyVersion: UInt32 = 3) throws -> SealedFixture {
        try SealedFixture(lines: [
            "{\"version\": 2, \"width\": 80, \"height\": 24}\n",
            "[0.5, \"o\", \"$ ls\\r\\n\"]\n",
            "[0.9, \"o\", \"a.txt\\r\\n\"]\n",
        ], key: key, fileID: fileID, masterKeyVersion: masterKeyVersion)
    }

    /// Byte range of chunk `index` in `file`.
    func chunkRange(_ index: Int) -> Range<Int> {
        (index == 0 ? headerByteCount : chunkEnds[index - 1]) ..< chunkEnds[index]
    }
}

func fixedKey(_ byte: UInt8) -> SymmetricKey {
    // 32 bytes is always a valid AES-256 key.
    guard let key = try? SymmetricKey(bytes: [UInt8](repeating: byte, count: 32)) else { fatalError("key") }
    return key
}

/// Overwrites the 8-byte plaintext offset field of the chunk starting at `chunkStart`.
func setOffsetField(_ file: inout [UInt8], chunkStart: Int, to value: UInt64) {
    for index in 0 ..< 8 {
        file[chunkStart + 4 + index] = UInt8(truncatingIfNeeded: value >> UInt64(56 - 8 * index))
    }
}
