/// Turns raw terminal bytes into the contents of a JSON string literal in one pass: UTF-8 is
/// validated on the way (ill-formed bytes become U+FFFD, one per maximal subpart, Unicode
/// §3.9 Table 3-7, as `String(decoding:as:)` does) and quotes, backslashes and control
/// characters are escaped (RFC 8259 §7; DEL and C1 controls too, see `AsciicastLine.string`).
///
/// The recording's hot path: a `cat` of a large file goes through here at whatever rate the
/// target sends, and output of `/dev/zero` turns each NUL into the six bytes `\u0000`. So it
/// works on raw pointers with two precomputed 256-entry tables (escape length and escape
/// bytes per ASCII byte), copies printable ASCII eight bytes at a time, and never builds a
/// `String` or appends to an `Array` per byte.
///
/// A multi-byte character split across two chunks is carried over (at most 3 bytes), like
/// `UTF8Chunker` does; the two must agree byte for byte, and a test checks that they do.
struct AsciicastEscaper: Sendable {
    /// Bytes of an incomplete sequence carried from the previous chunk.
    private(set) var pending: [UInt8] = []

    /// Input bytes encoded per step; the step's output (at most 6 bytes per input byte) goes
    /// through a temporary buffer of this size times 6.
    static let blockSize = 4096
    /// Extra room at the end of an output buffer: escapes are stored as one 8-byte word.
    private static let slack = 8

    /// Appends the escaped form of `bytes` (after the pending tail) to `out`, holding back a
    /// new incomplete tail if the chunk ends inside a character.
    mutating func append(_ bytes: [UInt8], to out: inout [UInt8]) {
        if pending.isEmpty {
            bytes.withUnsafeBytes { pending = Self.append($0, to: &out, final: false) }
        } else {
            let joined = pending + bytes
            joined.withUnsafeBytes { pending = Self.append($0, to: &out, final: false) }
        }
    }

    /// Ends the stream: a pending incomplete sequence can no longer complete, so it becomes U+FFFD.
    mutating func finish(to out: inout [UInt8]) {
        if !pending.isEmpty { out.append(contentsOf: UTF8Chunker.replacement) }
        pending = []
    }

    /// Appends the escaped form of a complete byte string (an incomplete sequence at its end
    /// becomes U+FFFD): header fields and markers.
    static func appendComplete(_ bytes: [UInt8], to out: inout [UInt8]) {
        _ = bytes.withUnsafeBytes { append($0, to: &out, final: true) }
    }

    /// Encodes `input` block by block into `out`; returns the unencoded incomplete tail
    /// (always empty when `final`).
    private static func append(_ input: UnsafeRawBufferPointer, to out: inout [UInt8], final: Bool) -> [UInt8] {
        guard let base = input.baseAddress?.assumingMemoryBound(to: UInt8.self), !input.isEmpty else { return [] }
        let blockLimit = min(input.count, blockSize)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: blockLimit * 6 + slack) { scratch in
            let target = scratch.baseAddress!
            var offset = 0
            while offset < input.count {
                let length = min(blockSize, input.count - offset)
                let isLast = offset + length == input.count
                let step = encode(base + offset, count: length, into: target, final: final && isLast)
                out.append(contentsOf: UnsafeBufferPointer(start: target, count: step.written))
                offset += step.consumed
                // Only the input's own end leaves a tail; inside the input the next block
                // starts with the incomplete sequence and completes it.
                if isLast || step.consumed == 0 { break }
            }
            return offset < input.count ? Array(UnsafeBufferPointer(start: base + offset, count: input.count - offset)) : []
        }
    }

    // MARK: - The encoding loop

    /// Encodes `input[0..<count]` into `output` (room for `6 × count + 8` bytes). Stops before
    /// an incomplete sequence at the end unless `final`, where it becomes U+FFFD.
    private static func encode(
        _ input: UnsafePointer<UInt8>, count: Int, into output: UnsafeMutablePointer<UInt8>, final: Bool
    ) -> (written: Int, consumed: Int) {
        lengths.withUnsafeBufferPointer { lengths in
            words.withUnsafeBufferPointer { words in
            c1Words.withUnsafeBufferPointer { c1Words in
                var index = 0
                var written = 0
                let raw = UnsafeRawPointer(input)
                let out = UnsafeMutableRawPointer(output)
                while index < count {
                    // Eight plain bytes (printable ASCII other than `"` and `\`) at once.
                    if index + 8 <= count {
                        let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self)
                        if isPlain(word) {
                            out.storeBytes(of: word, toByteOffset: written, as: UInt64.self)
                            index += 8
                            written += 8
                            continue
                        }
                    }
                    // Otherwise up to eight bytes one by one, then try a word again.
                    let stop = min(count, index + 8)
                    while index < stop {
                        let byte = input[index]
                        if byte < 0x80 {
                            out.storeBytes(of: words[Int(byte)], toByteOffset: written, as: UInt64.self)
                            written += Int(lengths[Int(byte)])
                            index += 1
                            continue
                        }
                        switch sequence(at: index, in: input, count: count) {
                        case .valid(let length):
                            if length == 2, byte == 0xC2, input[index + 1] <= 0x9F {
                                // U+0080...U+009F (C1 controls): escaped like the C0 ones.
                                out.storeBytes(of: c1Words[Int(input[index + 1] & 0x1F)], toByteOffset: written, as: UInt64.self)
                                written += 6
                            } else {
                                for offset in 0..<length { output[written + offset] = input[index + offset] }
                                written += length
                            }
                            index += length
                        case .invalid(let length):
                            output[written] = 0xEF
                            output[written + 1] = 0xBF
                            output[written + 2] = 0xBD
                            written += 3
                            index += length
                        case .incomplete:
                            guard final else { return (written, index) }
                            output[written] = 0xEF
                            output[written + 1] = 0xBF
                            output[written + 2] = 0xBD
                            return (written + 3, count)
                        }
                    }
                }
                return (written, index)
            }
            }
        }
    }

    /// True when none of the eight bytes is below 0x20, above 0x7E, `"` or `\` (the classic
    /// "has less / has more / has zero byte" tricks; each is exact as a yes/no answer).
    @inline(__always)
    private static func isPlain(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let below = (word &- ones &* 0x20) & ~word & highs
        let above = ((word &+ ones) | word) & highs
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let quotes = (quote &- ones) & ~quote & highs
        let backslashes = (backslash &- ones) & ~backslash & highs
        return below | above | quotes | backslashes == 0
    }

    private enum Sequence {
        case valid(Int)
        /// A maximal subpart that can never be completed: one U+FFFD for `Int` bytes.
        case invalid(Int)
        /// A valid prefix cut by the end of the input.
        case incomplete
    }

    /// Classifies the sequence whose lead byte (≥ 0x80) is at `index` (Table 3-7).
    @inline(__always)
    private static func sequence(at index: Int, in input: UnsafePointer<UInt8>, count: Int) -> Sequence {
        let lead = input[index]
        let continuations: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF: continuations = 1
        case 0xE0: continuations = 2; low = 0xA0
        case 0xED: continuations = 2; high = 0x9F
        case 0xE1...0xEF: continuations = 2
        case 0xF0: continuations = 3; low = 0x90
        case 0xF4: continuations = 3; high = 0x8F
        case 0xF1...0xF3: continuations = 3
        default: return .invalid(1)
        }
        var next = index + 1
        while next <= index + continuations {
            guard next < count else { return .incomplete }
            let byte = input[next]
            let inRange = next == index + 1 ? (low...high).contains(byte) : byte & 0xC0 == 0x80
            guard inRange else { return .invalid(next - index) }
            next += 1
        }
        return .valid(next - index)
    }

    // MARK: - Tables

    /// Output length per ASCII byte: 1 (as is), 2 (`\n`, `\"`, …) or 6 (`\u001b`).
    private static let lengths: [UInt8] = (0..<128).map { UInt8(escape(UInt8($0)).count) }
    /// Output bytes per ASCII byte, packed so that storing the word writes them in order.
    private static let words: [UInt64] = (0..<128).map { pack(escape(UInt8($0))) }

    /// The JSON form of one ASCII byte.
    private static func escape(_ byte: UInt8) -> [UInt8] {
        switch byte {
        case UInt8(ascii: "\""): Array(#"\""#.utf8)
        case UInt8(ascii: "\\"): Array(#"\\"#.utf8)
        case 0x0A: Array(#"\n"#.utf8)
        case 0x0D: Array(#"\r"#.utf8)
        case 0x09: Array(#"\t"#.utf8)
        case 0x08: Array(#"\b"#.utf8)
        case 0x0C: Array(#"\f"#.utf8)
        case 0x00..<0x20, 0x7F: unicodeEscapeBytes(byte)
        default: [byte]
        }
    }

    /// `\u00XX` with lowercase hex.
    private static func unicodeEscapeBytes(_ value: UInt8) -> [UInt8] {
        func hex(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x57 + nibble }
        return Array(#"\u00"#.utf8) + [hex(value >> 4), hex(value & 0xF)]
    }

    /// `\u0080` … `\u009f`, for the second byte of a C1 control's UTF-8 form.
    private static let c1Words: [UInt64] = (0x80...0x9F).map { pack(unicodeEscapeBytes(UInt8($0))) }

    private static func pack(_ bytes: [UInt8]) -> UInt64 {
        var word: UInt64 = 0
        for (shift, byte) in bytes.enumerated() { word |= UInt64(byte) << (8 * UInt64(shift)) }
        return word.littleEndian
    }
}
