/// Turns a stream of raw byte chunks into valid UTF-8 without mangling characters at chunk edges.
///
/// SSH delivers output in arbitrary chunks, so a multi-byte UTF-8 sequence may straddle two
/// of them. The chunker holds back an incomplete trailing sequence (at most 3 bytes) and
/// prepends it to the next chunk; bytes that can never form a character become U+FFFD, one per
/// maximal invalid subpart (Unicode §3.9, Table 3-7; what `String(decoding:as:)` does too).
/// The asciicast file must be valid UTF-8 or players reject it.
///
/// Works on bytes, not `String`, because it sits on the recording's hot path: a `cat` of a
/// large file goes through here at whatever rate the target sends.
public struct UTF8Chunker: Sendable {
    /// Bytes of an incomplete sequence carried from the previous chunk.
    public private(set) var pending: [UInt8] = []

    public init() {}

    /// Decodes `bytes` after the pending tail, keeping a new incomplete tail if there is one.
    public mutating func decode(_ bytes: [UInt8]) -> String {
        var valid: [UInt8] = []
        append(bytes, validatedTo: &valid)
        return String(decoding: valid, as: UTF8.self)
    }

    /// Ends the stream: a pending incomplete sequence can no longer complete, so it becomes
    /// U+FFFD. Returns the empty string when nothing was pending.
    public mutating func finish() -> String {
        var valid: [UInt8] = []
        finish(validatedTo: &valid)
        return String(decoding: valid, as: UTF8.self)
    }

    /// Appends the well-formed UTF-8 of `bytes` (after the pending tail) to `out`.
    mutating func append(_ bytes: [UInt8], validatedTo out: inout [UInt8]) {
        if pending.isEmpty {
            pending = Self.validate(bytes, into: &out)
        } else {
            pending = Self.validate(pending + bytes, into: &out)
        }
    }

    /// Appends U+FFFD for a pending incomplete sequence, if any.
    mutating func finish(validatedTo out: inout [UInt8]) {
        if !pending.isEmpty { out.append(contentsOf: Self.replacement) }
        pending = []
    }

    /// U+FFFD REPLACEMENT CHARACTER in UTF-8.
    static let replacement: [UInt8] = [0xEF, 0xBF, 0xBD]

    /// Copies well-formed sequences, replaces ill-formed ones, and returns a trailing valid
    /// but incomplete sequence instead of replacing it.
    private static func validate(_ bytes: [UInt8], into out: inout [UInt8]) -> [UInt8] {
        out.reserveCapacity(out.count + bytes.count)
        return bytes.withUnsafeBufferPointer { input -> [UInt8] in
            let count = input.count
            var index = 0
            while index < count {
                let lead = input[index]
                if lead < 0x80 {
                    out.append(lead)
                    index += 1
                    continue
                }
                // Table 3-7: continuation count and the allowed range of the second byte.
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
                default:
                    out.append(contentsOf: replacement)
                    index += 1
                    continue
                }
                var next = index + 1
                var wellFormed = true
                while next <= index + continuations {
                    guard next < count else { return Array(input[index..<count]) }  // incomplete tail
                    let byte = input[next]
                    let inRange = next == index + 1 ? (low...high).contains(byte) : byte & 0xC0 == 0x80
                    guard inRange else { wellFormed = false; break }
                    next += 1
                }
                if wellFormed {
                    out.append(contentsOf: input[index..<next])
                } else {
                    out.append(contentsOf: replacement)  // one for the maximal subpart index..<next
                }
                index = next
            }
            return []
        }
    }
}
