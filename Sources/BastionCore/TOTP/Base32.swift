/// Base32 (RFC 4648 §6), the encoding authenticator apps use for TOTP secrets.
enum Base32 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    /// Uppercase, unpadded: the form Google Authenticator's key URI format expects.
    static func encode(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        output.reserveCapacity((bytes.count * 8 + 4) / 5)
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                output.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 0x1F)])
                bits -= 5
            }
        }
        if bits > 0 {
            output.append(alphabet[Int((buffer << UInt32(5 - bits)) & 0x1F)])
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Decodes what people paste: any case, spaces and dashes between groups, optional
    /// trailing `=` padding. Refuses other characters, impossible lengths and non-zero
    /// leftover bits (so each secret has one canonical text).
    static func decode(_ text: String) throws(FormatError) -> [UInt8] {
        var symbols: [UInt8] = []
        var sawPadding = false
        for scalar in text.unicodeScalars {
            switch scalar {
            case " ", "-", "\t":
                continue
            case "=":
                sawPadding = true
            case "A" ... "Z", "a" ... "z", "2" ... "7":
                guard !sawPadding else { throw FormatError(.invalidEncoding, "Base32 data after padding") }
                let value = UInt8(truncatingIfNeeded: scalar.value)
                let upper = (value >= UInt8(ascii: "a") && value <= UInt8(ascii: "z")) ? value - 32 : value
                guard let index = alphabet.firstIndex(of: upper) else {
                    throw FormatError(.invalidEncoding, "invalid Base32 character")
                }
                symbols.append(UInt8(index))
            default:
                throw FormatError(.invalidEncoding, "invalid Base32 character")
            }
        }
        // 8 symbols carry 5 bytes; a final group of 1, 3 or 6 symbols cannot come from
        // whole bytes (RFC 4648 §6 lists the valid final quanta).
        guard ![1, 3, 6].contains(symbols.count % 8) else {
            throw FormatError(.invalidEncoding, "impossible Base32 length")
        }
        var output: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for symbol in symbols {
            buffer = (buffer << 5) | UInt32(symbol)
            bits += 5
            if bits >= 8 {
                output.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits - 8)))
                bits -= 8
                buffer &= (1 << UInt32(bits)) - 1
            }
        }
        guard buffer == 0 else {
            throw FormatError(.invalidEncoding, "non-zero trailing bits in Base32")
        }
        return output
    }
}
