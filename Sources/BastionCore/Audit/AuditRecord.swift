/// One link of the audit chain: the record's canonical bytes and the hash that chains them.
///
/// The bytes are the envelope `{"event":<event canonical JSON>,"seq":<seq>}`: still
/// canonical JSON (sorted keys, no whitespace), and the record names its own position, so a
/// record moved to another `seq` (rows swapped, renumbered, replayed) is reported as such
/// instead of as an anonymous hash mismatch. `hash = SHA-256(previous hash ‖ bytes)`.
public struct AuditRecord: Sendable, Hashable {
    public var seq: Int64
    /// The canonical record bytes, exactly as hashed.
    public var bytes: [UInt8]
    public var hash: [UInt8]

    public init(seq: Int64, bytes: [UInt8], hash: [UInt8]) {
        self.seq = seq
        self.bytes = bytes
        self.hash = hash
    }

    /// The envelope around an event's canonical JSON at position `seq`.
    public static func envelope(event: [UInt8], seq: Int64) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(event.count + 32)
        bytes.append(contentsOf: Self.prefix)
        bytes.append(contentsOf: event)
        bytes.append(contentsOf: Self.seqKey)
        bytes.append(contentsOf: String(seq).utf8)
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    /// The `seq` a record's bytes claim, read from the fixed tail `,"seq":N}`; nil when the
    /// bytes are not an envelope.
    public static func claimedSeq(in bytes: UnsafeRawBufferPointer) -> Int64? {
        guard bytes.count > prefix.count + seqKey.count + 1, bytes[bytes.count - 1] == UInt8(ascii: "}") else { return nil }
        var index = bytes.count - 2
        var value: Int64 = 0
        var multiplier: Int64 = 1
        while index >= 0, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            guard multiplier <= 1_000_000_000_000_000 else { return nil }
            value += Int64(bytes[index] - UInt8(ascii: "0")) * multiplier
            multiplier *= 10
            index -= 1
        }
        guard multiplier > 1, index + 1 >= seqKey.count else { return nil }
        let keyStart = index + 1 - seqKey.count
        for (offset, byte) in seqKey.enumerated() where bytes[keyStart + offset] != byte { return nil }
        return value
    }

    /// The event's canonical JSON inside the envelope, or nil when the bytes are not one.
    public static func eventBytes(in bytes: [UInt8]) -> ArraySlice<UInt8>? {
        guard bytes.count > prefix.count, bytes.starts(with: prefix),
            let seq = bytes.withUnsafeBytes({ claimedSeq(in: $0) })
        else { return nil }
        let tail = seqKey.count + String(seq).utf8.count + 1
        return bytes[prefix.count..<(bytes.count - tail)]
    }

    static let prefix = Array(#"{"event":"#.utf8)
    static let seqKey = Array(#","seq":"#.utf8)
}

/// The chain's arithmetic, shared by the appender, the verifier and offline export checks.
public enum AuditChain {
    /// The `previous hash` of the first record ever appended.
    public static let genesisHash = [UInt8](repeating: 0, count: 32)

    /// Lower-case hex, the form hashes take in exports and reports.
    public static func hex(_ bytes: [UInt8]) -> String { Hex.string(bytes) }

    /// Parses lower- or upper-case hex; nil on anything else.
    public static func bytes(hex: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(hex.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
