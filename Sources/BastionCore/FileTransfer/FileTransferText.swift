/// How file names from the wire become audit text.
///
/// SFTP and scp names are bytes, not text: valid UTF-8 is kept as it is; an invalid byte or a
/// control character (a newline that could forge a line in a log viewer) becomes `\xNN`, so
/// no name is lost to U+FFFD and none can pass for another.
enum FileTransferText {
    static func path(_ bytes: UnsafeRawBufferPointer) -> String {
        if !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F || $0 >= 0x80 }) {
            return String(decoding: bytes, as: UTF8.self)
        }
        var text = ""
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            if byte < 0x20 || byte == 0x7F {
                text += escape(byte)
                index += 1
                continue
            }
            if byte < 0x80 {
                text.unicodeScalars.append(Unicode.Scalar(byte))
                index += 1
                continue
            }
            let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
            if length > 1, index + length <= count,
                let scalar = String(validating: UnsafeRawBufferPointer(rebasing: bytes[index ..< index + length]), as: UTF8.self)
            {
                text += scalar
                index += length
            } else {
                text += escape(byte)
                index += 1
            }
        }
        return text
    }

    static func path(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { path($0) }
    }

    private static func escape(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0F)])
    }
}
