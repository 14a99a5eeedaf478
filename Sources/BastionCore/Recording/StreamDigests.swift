import BastionCrypto

/// Sizes and SHA-256 of the three byte streams of a non-PTY channel (exec, subsystem):
/// what the engineer sent and what the target answered, byte for byte, whatever the `.cast`
/// shows of them. They go into `session.end`, so a file that left through `cat` can be
/// matched against the `sha256sum` of the copy that arrived.
///
/// Owned by the recording's writer thread (the hashing happens there, off the relay).
final class StreamDigests: @unchecked Sendable {
    enum Stream: String, CaseIterable {
        case stdin, stdout, stderr
    }

    private var sizes: [Stream: Int] = [:]
    private let hashes: [Stream: IncrementalSHA256] = Dictionary(uniqueKeysWithValues: Stream.allCases.map { ($0, IncrementalSHA256()) })

    func add(_ bytes: [UInt8], to stream: Stream) {
        sizes[stream, default: 0] += bytes.count
        hashes[stream]!.update(bytes)
    }

    /// `stdin_bytes`, `stdin_sha256`, … for all three streams (an empty stream included:
    /// "nothing was sent" is a fact worth recording too).
    func summary() -> [String: String] {
        var details: [String: String] = [:]
        for stream in Stream.allCases {
            details["\(stream.rawValue)_bytes"] = String(sizes[stream, default: 0])
            details["\(stream.rawValue)_sha256"] = Hex.string(hashes[stream]!.finalize())
        }
        return details
    }
}

/// Whether a chunk of a non-PTY stream is text the `.cast` shows or binary it only counts.
///
/// Binary means a NUL byte or a byte sequence that is not UTF-8 (an incomplete character at
/// the very end is not counted: the next chunk may complete it). Terminal escapes and other
/// controls stay text: a coloured `ls` over exec is still worth reading in a replay. The scan
/// stops at the first binary byte and takes eight ASCII bytes at a time, so text costs one
/// light pass and binary almost nothing.
enum StreamContent {
    static func isBinary(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return false }
            let count = raw.count
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            var index = 0
            while index < count {
                if index + 8 <= count {
                    let word = base.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                    let zero = (word &- ones) & ~word & highs
                    if zero == 0, word & highs == 0 {
                        index += 8
                        continue
                    }
                }
                let byte = base.load(fromByteOffset: index, as: UInt8.self)
                if byte == 0 { return true }
                if byte < 0x80 {
                    index += 1
                    continue
                }
                let length: Int
                switch byte {
                case 0xC2...0xDF: length = 2
                case 0xE0...0xEF: length = 3
                case 0xF0...0xF4: length = 4
                default: return true
                }
                for offset in 1..<length {
                    // A character cut by the end of the chunk: the next chunk decides.
                    guard index + offset < count else { return false }
                    let next = base.load(fromByteOffset: index + offset, as: UInt8.self)
                    guard next & 0xC0 == 0x80 else { return true }
                    if offset == 1 {
                        // Overlongs and surrogates (Unicode Table 3-7).
                        if byte == 0xE0, next < 0xA0 { return true }
                        if byte == 0xED, next > 0x9F { return true }
                        if byte == 0xF0, next < 0x90 { return true }
                        if byte == 0xF4, next > 0x8F { return true }
                    }
                }
                index += length
            }
            return false
        }
    }
}
