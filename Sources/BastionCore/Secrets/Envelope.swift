import BastionCrypto

/// Envelope encryption of a small secret (a TOTP seed): a fresh data key per secret seals it
/// with AES-256-GCM, and the master key wraps the data key. The master key therefore only
/// ever sees 32-byte keys, which is what an HSM is good at, and a rotated master key re-wraps
/// data keys without touching what they seal.
///
/// Layout: `"BEN1"` ‖ master key version (UInt32 BE) ‖ wrapped-key length (UInt16 BE) ‖
/// wrapped key ‖ AES-GCM box (nonce ‖ ciphertext ‖ tag). The `context` (purpose and owner)
/// is bound both into the wrap and into the box.
public enum Envelope {
    static let magic: [UInt8] = Array("BEN1".utf8)

    public static func seal(_ plaintext: [UInt8], keyring: MasterKeyring, context: [UInt8]) throws -> [UInt8] {
        let dataKey = try keyring.newDataKey(context: context)
        var out = magic
        out += bigEndian(dataKey.version)
        out += bigEndian(UInt16(dataKey.wrapped.count))
        out += dataKey.wrapped
        out += try AESGCM.seal(plaintext, using: dataKey.key, authenticating: context)
        return out
    }

    /// Whether `bytes` are in this format (older TOTP seeds are a bare AES-GCM box).
    public static func isEnvelope(_ bytes: [UInt8]) -> Bool {
        bytes.count > 10 && Array(bytes.prefix(4)) == magic
    }

    public static func open(_ sealed: [UInt8], keyring: MasterKeyring, context: [UInt8]) throws -> [UInt8] {
        let parts = try parse(sealed)
        let key = try keyring.unwrap(parts.wrapped, version: parts.version, context: context)
        return try AESGCM.open(parts.box, using: key, authenticating: context)
    }

    /// The same envelope with its data key wrapped under the current master key version; the
    /// sealed secret itself is copied as it is.
    public static func rewrap(_ sealed: [UInt8], keyring: MasterKeyring, context: [UInt8]) throws -> [UInt8] {
        let parts = try parse(sealed)
        let rewrapped = try keyring.rewrap(parts.wrapped, version: parts.version, context: context)
        return magic + bigEndian(rewrapped.version) + bigEndian(UInt16(rewrapped.wrapped.count)) + rewrapped.wrapped + parts.box
    }

    /// The master key version and wrapped key of an envelope, for re-wrapping after a rotation.
    public static func parse(_ sealed: [UInt8]) throws(EnvelopeError) -> (version: UInt32, wrapped: [UInt8], box: [UInt8]) {
        guard isEnvelope(sealed) else { throw EnvelopeError("not an envelope") }
        let version = sealed[4..<8].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        let length = Int(sealed[8]) << 8 | Int(sealed[9])
        guard sealed.count >= 10 + length + AESGCM.nonceByteCount + AESGCM.tagByteCount else {
            throw EnvelopeError("envelope shorter than its header says")
        }
        return (version, Array(sealed[10..<(10 + length)]), Array(sealed[(10 + length)...]))
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    static func bigEndian(_ value: UInt16) -> [UInt8] {
        [UInt8(value >> 8), UInt8(value & 0xFF)]
    }
}
