import CQREncode

/// Draws a QR code in a terminal with Unicode half blocks (two modules per character).
///
/// Light modules are drawn and dark ones left blank, as `qrencode -t UTF8` does, which
/// reads correctly on the usual dark-background terminal; a quiet zone surrounds it.
public enum TerminalQRCode {
    public static func render(_ text: String) -> String? {
        guard let code = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1) else { return nil }
        defer { QRcode_free(code) }
        let width = Int(code.pointee.width)
        let quiet = 2
        let size = width + 2 * quiet
        func isDark(_ row: Int, _ column: Int) -> Bool {
            let r = row - quiet, c = column - quiet
            guard r >= 0, c >= 0, r < width, c < width else { return false }
            return code.pointee.data[r * width + c] & 1 == 1
        }
        var lines: [String] = []
        for row in stride(from: 0, to: size, by: 2) {
            var line = ""
            for column in 0..<size {
                let top = !isDark(row, column)
                let bottom = row + 1 < size ? !isDark(row + 1, column) : false
                switch (top, bottom) {
                case (true, true): line += "█"
                case (true, false): line += "▀"
                case (false, true): line += "▄"
                case (false, false): line += " "
                }
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
