/// Splits a command line the way a POSIX shell would split plain words: whitespace
/// separates, single and double quotes group, a backslash escapes the next character.
///
/// `ssh host elevate web01 --reason "fix it"` reaches Bastion as `elevate web01 --reason fix it`
/// (the local shell ate the quotes), so options that take free text (`--reason`, `--comment`)
/// also take every following word up to the next `--option`.
enum CommandWords {
    struct UnbalancedQuote: Error {}

    static func split(_ line: String) throws(UnbalancedQuote) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        for character in line {
            if escaped {
                current.append(character)
                escaped = false
                continue
            }
            if let open = quote {
                if character == open {
                    quote = nil
                } else if character == "\\" && open == "\"" {
                    escaped = true
                } else {
                    current.append(character)
                }
                continue
            }
            switch character {
            case " ", "\t", "\n", "\r":
                if inWord { words.append(current) }
                current = ""
                inWord = false
            case "'", "\"":
                quote = character
                inWord = true
            case "\\":
                escaped = true
                inWord = true
            default:
                current.append(character)
                inWord = true
            }
        }
        guard quote == nil, !escaped else { throw UnbalancedQuote() }
        if inWord { words.append(current) }
        return words
    }
}
