/// Finds the line on which each key of a TOML document is written.
///
/// TOMLKit gives positions only for syntax errors, so validation errors would otherwise have no
/// line. This is a small scanner over text that has already parsed: it follows `[table]` and
/// `[[array]]` headers, dotted and quoted keys, inline tables (their keys get the line they are
/// on) and skips strings, arrays and comments so that a `=` inside them is not taken for a key.
/// Keys are recorded by their path of components; the first line a path appears on wins, which
/// for an implicitly created table (`[roles.engineer]` creates `roles`) is its first mention.
struct TOMLKeyLocator {
    private var lines: [[String]: Int] = [:]

    init(_ text: String) {
        var scanner = Scanner(bytes: Array(text.utf8))
        scanner.scanDocument()
        lines = scanner.lines
    }

    /// The line of `path`, or of its nearest enclosing table that is written down (a missing key
    /// is reported on its table's header), or `nil` when none is.
    func line(of path: [String]) -> Int? {
        var path = path
        while !path.isEmpty {
            if let line = lines[path] { return line }
            path.removeLast()
        }
        return nil
    }
}

private struct Scanner {
    let bytes: [UInt8]
    var index = 0
    var line = 1
    var lines: [[String]: Int] = [:]

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private func peek(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }

    private mutating func advance() {
        if bytes[index] == UInt8(ascii: "\n") { line += 1 }
        index += 1
    }

    private mutating func record(_ path: [String]) {
        for length in stride(from: 1, through: path.count, by: 1) where lines[Array(path.prefix(length))] == nil {
            lines[Array(path.prefix(length))] = line
        }
    }

    mutating func scanDocument() {
        var table: [String] = []
        var arrayCounts: [[String]: Int] = [:]
        while true {
            skipTrivia(newlines: true)
            guard let byte = current else { return }
            let start = index
            if byte == UInt8(ascii: "[") {
                advance()
                let isArrayOfTables = current == UInt8(ascii: "[")
                if isArrayOfTables { advance() }
                table = scanKey()
                record(table)
                if isArrayOfTables, let last = table.last {
                    // Each `[[a.b]]` is element n of `a.b`: its keys live under `a`, `b[n]`.
                    let count = arrayCounts[table, default: 0]
                    arrayCounts[table] = count + 1
                    table = table.dropLast() + ["\(last)[\(count)]"]
                    record(table)
                }
                while let byte = current, byte != UInt8(ascii: "\n") {
                    advance()
                    if byte == UInt8(ascii: "]") { break }
                }
                if isArrayOfTables, current == UInt8(ascii: "]") { advance() }
            } else {
                let key = table + scanKey()
                skipTrivia(newlines: false)
                if current == UInt8(ascii: "=") {
                    advance()
                    record(key)
                    scanValue(key)
                }
            }
            if index == start { advance() }  // never loop on text the grammar above does not cover
        }
    }

    /// Whitespace and comments; newlines too when asked.
    private mutating func skipTrivia(newlines: Bool) {
        while let byte = current {
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") {
                advance()
            } else if byte == UInt8(ascii: "\n"), newlines {
                advance()
            } else if byte == UInt8(ascii: "#") {
                while let byte = current, byte != UInt8(ascii: "\n") { _ = byte; advance() }
            } else {
                return
            }
        }
    }

    /// A possibly dotted key: `a`, `a.b`, `"a.b".c`, `'x'`.
    private mutating func scanKey() -> [String] {
        var components: [String] = []
        while true {
            skipTrivia(newlines: false)
            guard let byte = current else { break }
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                components.append(scanQuotedKey(quote: byte))
            } else {
                let start = index
                while let byte = current, isBareKeyByte(byte) { advance() }
                guard index > start else { break }
                components.append(String(decoding: bytes[start..<index], as: UTF8.self))
            }
            skipTrivia(newlines: false)
            guard current == UInt8(ascii: ".") else { break }
            advance()
        }
        return components
    }

    private mutating func scanQuotedKey(quote: UInt8) -> String {
        advance()
        var value: [UInt8] = []
        while let byte = current, byte != quote, byte != UInt8(ascii: "\n") {
            advance()
            if byte == UInt8(ascii: "\\"), quote == UInt8(ascii: "\""), let escaped = current {
                // Only the escapes a key plausibly holds; others are kept as written.
                advance()
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): value.append(escaped)
                case UInt8(ascii: "t"): value.append(UInt8(ascii: "\t"))
                default: value.append(contentsOf: [byte, escaped])
                }
            } else {
                value.append(byte)
            }
        }
        if current == quote { advance() }
        return String(decoding: value, as: UTF8.self)
    }

    private mutating func scanValue(_ path: [String]) {
        skipTrivia(newlines: false)
        guard let byte = current else { return }
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "'"):
            scanString(quote: byte)
        case UInt8(ascii: "["):
            advance()
            while true {
                skipTrivia(newlines: true)
                guard let byte = current else { return }
                if byte == UInt8(ascii: "]") { advance(); return }
                if byte == UInt8(ascii: ",") { advance(); continue }
                let start = index
                scanValue(path)
                if index == start { advance() }
            }
        case UInt8(ascii: "{"):
            advance()
            while true {
                skipTrivia(newlines: true)
                guard let byte = current else { return }
                if byte == UInt8(ascii: "}") { advance(); return }
                if byte == UInt8(ascii: ",") { advance(); continue }
                let start = index
                let key = path + scanKey()
                skipTrivia(newlines: false)
                if current == UInt8(ascii: "=") {
                    advance()
                    record(key)
                    scanValue(key)
                }
                if index == start { advance() }
            }
        default:
            // Numbers, booleans, dates: up to whatever ends a value.
            while let byte = current, !isValueTerminator(byte) { advance() }
        }
    }

    /// A basic or literal string, single- or multi-line (TOML 1.0 §String).
    private mutating func scanString(quote: UInt8) {
        let isMultiLine = peek(1) == quote && peek(2) == quote
        advance()
        if isMultiLine {
            advance()
            advance()
        }
        while let byte = current {
            if byte == UInt8(ascii: "\\"), quote == UInt8(ascii: "\"") {
                advance()
                if current != nil { advance() }
                continue
            }
            if byte == quote {
                if !isMultiLine { advance(); return }
                if peek(1) == quote, peek(2) == quote {
                    advance(); advance(); advance()
                    // Up to two more quotes belong to the content (`""""a"""""` is legal).
                    while current == quote { advance() }
                    return
                }
            }
            if byte == UInt8(ascii: "\n"), !isMultiLine { return }
            advance()
        }
    }

    private func isBareKeyByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    private func isValueTerminator(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: ",") || byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "#")
            || byte == UInt8(ascii: "\n")
    }
}
