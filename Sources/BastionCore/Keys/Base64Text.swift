import Foundation

/// The Base64 (RFC 4648 §4) flavours OpenSSH files use: padded, strict on input.
enum Base64Text {
    /// Decodes padded Base64, refusing anything not in canonical form (stray characters,
    /// missing padding, non-zero unused bits), so one blob has exactly one spelling.
    static func decode(_ text: some StringProtocol) throws(FormatError) -> [UInt8] {
        let string = String(text)
        guard let data = Data(base64Encoded: string), data.base64EncodedString() == string else {
            throw FormatError(.invalidEncoding, "not canonical Base64")
        }
        return [UInt8](data)
    }

    /// Padded Base64 on one line.
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
    }
}
