import BastionCrypto

/// Lower-case hex of bytes: ids, digests and fingerprints in records and reports.
public enum Hex {
    public static func string(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}

/// A random identifier: `bytes` from the system's CSPRNG, in hex. The one generator every id
/// comes from, so none is guessable and all read alike.
public enum RandomID {
    public static func hex(bytes: Int) -> String { Hex.string(SecureRandom.bytes(bytes)) }
}

/// What every typed id shares: a string underneath, written as itself (in JSON too: the standard
/// library codes a `String`-backed `RawRepresentable` as its raw value), and
/// literals for tests and fixtures (`"s1"`); real ones come from `random()` or a store.
public protocol TypedIdentifier: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible, CustomDebugStringConvertible,
    ExpressibleByStringLiteral
where RawValue == String {
    init(rawValue: String)
}

extension TypedIdentifier {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    public var description: String { rawValue }
    /// In a list or a test's failure message too, the id as written (`["1a2b"]`).
    public var debugDescription: String { "\"\(rawValue)\"" }
}

/// A relayed session (or a connection's row of forwards) in the session registry, the
/// recording's file name and every audit record about it: 16 hex digits.
public struct SessionID: TypedIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static func random() -> SessionID { SessionID(rawValue: RandomID.hex(bytes: 8)) }
}

/// One front-door connection, in audit records (`connection.id`) and log lines: 12 hex digits.
public struct ConnectionID: TypedIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static func random() -> ConnectionID { ConnectionID(rawValue: RandomID.hex(bytes: 6)) }
}

/// An elevation request and the grant it becomes: 8 hex digits, short enough to type
/// (`elevate --approve 1a2b3c4d`).
public struct ElevationID: TypedIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static func random() -> ElevationID { ElevationID(rawValue: RandomID.hex(bytes: 4)) }

    /// An id as a person typed it: 8 lower-case hex digits, or nil (so a typo never reaches
    /// a store query or an audit record as if it were an id).
    public init?(typed text: String) {
        guard text.utf8.count == 8, text.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        self.init(rawValue: text)
    }
}
