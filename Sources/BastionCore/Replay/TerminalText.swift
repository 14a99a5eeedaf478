/// The words a terminal showed, from the bytes a program wrote to it: escape sequences
/// (colours, cursor moves, titles) removed, control characters turned into spaces, so that a
/// full-text index finds `nginx` in `\e[1;32mnginx\e[0m`.
///
/// A line-level approximation, not a terminal emulator: text a program later overwrote
/// stays findable, which is what an auditor searching for what was shown wants.
public enum TerminalText {
    public static func strip(_ text: String) -> String {
        var result = String.UnicodeScalarView()
        var state = State.text
        for scalar in text.unicodeScalars {
            switch state {
            case .text:
                switch scalar.value {
                case 0x1B: state = .escape
                case 0x9B: state = .csi
                case 0x0A, 0x0D, 0x09: result.append(" ")
                case 0x00..<0x20, 0x7F: continue
                default: result.append(scalar)
                }
            case .escape:
                switch scalar {
                case "[": state = .csi
                case "]", "P", "X", "^", "_": state = .string
                case "(", ")", "*", "+", "#", "%": state = .charset
                default: state = .text
                }
            case .csi:
                // Parameters and intermediates (0x20–0x3F), then one final byte (0x40–0x7E).
                if (0x40...0x7E).contains(scalar.value) { state = .text }
            case .string:
                // OSC/DCS… end with BEL or ST (ESC \).
                if scalar.value == 0x07 { state = .text } else if scalar.value == 0x1B { state = .stringEscape }
            case .stringEscape:
                state = scalar == "\\" ? .text : .string
            case .charset:
                state = .text
            }
        }
        return String(result)
    }

    private enum State { case text, escape, csi, string, stringEscape, charset }
}
