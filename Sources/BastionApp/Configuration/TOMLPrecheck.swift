/// A pass over the configuration text before TOMLKit sees it.
///
/// TOMLKit's parser (toml++) asserts rather than reports on some malformed input: a table name
/// that does not start like a key (`[ = x]`, `[\r ssh]`, `[\u{FFFD}server]`) aborted the whole
/// process (found by the configuration fuzz test). This pass refuses, with the line, what it
/// must not see: wherever a key must start (a line, a table header, after a dot or inside an
/// inline table), something that cannot start one; any non-ASCII character outside strings and
/// comments (Bastion's keys and table names are ASCII); control characters outside strings
/// but tab (a carriage return only before a line feed). Everything else is TOMLKit's to judge.
enum TOMLPrecheck {
    /// The line and reason of the first thing refused, or nil.
    static func problem(in text: String) -> (line: Int, reason: String)? {
        var scanner = Scanner(Array(text.unicodeScalars))
        return scanner.run()
    }

    private struct Scanner {
        let scalars: [Unicode.Scalar]
        var index = 0
        var line = 1
        /// Open brackets of the current value or header: `[` (array or header), `{` (inline table).
        var brackets: [Unicode.Scalar] = []
        var expectKey = true
        var expectValue = false

        init(_ scalars: [Unicode.Scalar]) {
            self.scalars = scalars
        }

        var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

        func starts(_ marker: String) -> Bool {
            let marks = Array(marker.unicodeScalars)
            return index + marks.count <= scalars.count && Array(scalars[index..<index + marks.count]) == marks
        }

        static func isBareKey(_ scalar: Unicode.Scalar) -> Bool {
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_" || scalar == "-")
        }

        mutating func run() -> (line: Int, reason: String)? {
            while current != nil {
                if expectKey, let problem = key() { return problem }
                if expectValue, let problem = value() { return problem }
                guard let scalar = current else { break }
                switch scalar {
                case "\n":
                    line += 1
                    index += 1
                    if brackets.isEmpty { expectKey = true }
                case "#":
                    while let next = current, next != "\n" { index += 1 }
                case "\"", "'":
                    if let problem = string() { return problem }
                case "[":
                    brackets.append("[")
                    index += 1
                    expectValue = true
                case "=":
                    index += 1
                    expectValue = true
                case "{":
                    brackets.append("{")
                    index += 1
                    expectKey = true
                case "]", "}":
                    if !brackets.isEmpty { brackets.removeLast() }
                    index += 1
                case ",":
                    index += 1
                    if brackets.last == "{" { expectKey = true } else if brackets.last == "[" { expectValue = true }
                default:
                    if let problem = plain(scalar) { return problem }
                    index += 1
                }
            }
            return nil
        }

        /// Where a key must start: nothing, a comment, a table header or a key (dotted).
        mutating func key() -> (line: Int, reason: String)? {
            expectKey = false
            skipBlanks()
            guard let first = current else { return nil }
            if brackets.isEmpty {
                if first == "\n" || first == "#" || (first == "\r" && starts("\r\n")) { return nil }
                if first == "[" {
                    // A table header: [name] or [[name]].
                    index += starts("[[") ? 2 : 1
                    brackets.append("[")
                    skipBlanks()
                }
            } else if first == "}" {
                return nil
            }
            while true {
                guard let start = current else { return (line, "a key was expected at the end of the file") }
                if start == "\"" || start == "'" {
                    if let problem = string() { return problem }
                } else if Self.isBareKey(start) {
                    while let next = current, Self.isBareKey(next) { index += 1 }
                } else {
                    return (line, "a key was expected, not \(describe(start))")
                }
                skipBlanks()
                guard current == "." else { return nil }
                index += 1
                skipBlanks()
            }
        }

        /// Where a value must start (after `=`, `[` or an array's `,`): not a terminator. In an
        /// array, line breaks and comments may come first, and `]` ends it.
        mutating func value() -> (line: Int, reason: String)? {
            expectValue = false
            let inArray = brackets.last == "["
            while true {
                skipBlanks()
                guard inArray, let next = current else { break }
                if next == "\n" {
                    line += 1
                    index += 1
                } else if next == "\r", starts("\r\n") {
                    index += 1
                } else if next == "#" {
                    while let comment = current, comment != "\n" { index += 1 }
                } else {
                    break
                }
            }
            guard let next = current else { return (line, "a value was expected at the end of the file") }
            if inArray, next == "]" { return nil }
            if [",", "]", "}", "=", "\n", "#"].contains(next) || (next == "\r" && !inArray) {
                return (line, "a value was expected, not \(next == "\n" ? "the end of the line" : describe(next))")
            }
            return nil
        }

        /// A string from its opening quote, basic or literal, single or multi-line.
        mutating func string() -> (line: Int, reason: String)? {
            let multiline = starts("\"\"\"") || starts("'''")
            let quote = current!
            let opening = multiline ? 3 : 1
            index += opening
            while let scalar = current {
                if scalar == "\n" {
                    guard multiline else { return nil }  // TOMLKit reports the unterminated string
                    line += 1
                }
                if quote == "\"", scalar == "\\" {
                    index += 2
                    continue
                }
                if scalar == quote, !multiline || starts(String(repeating: String(quote), count: 3)) {
                    index += opening
                    return nil
                }
                index += 1
            }
            return nil
        }

        /// A character of a value or between tokens, outside strings and comments.
        func plain(_ scalar: Unicode.Scalar) -> (line: Int, reason: String)? {
            if scalar == "\t" || (scalar == "\r" && starts("\r\n")) { return nil }
            if scalar.value < 0x20 || scalar.value == 0x7F || !scalar.isASCII {
                return (line, "unexpected \(describe(scalar)) outside a string (keys and table names are ASCII)")
            }
            return nil
        }

        mutating func skipBlanks() {
            while current == " " || current == "\t" { index += 1 }
        }

        func describe(_ scalar: Unicode.Scalar) -> String {
            if scalar.isASCII, scalar.value >= 0x20, scalar.value != 0x7F { return "\"\(Character(scalar))\"" }
            let digits = String(scalar.value, radix: 16, uppercase: true)
            return "U+" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
        }
    }
}
