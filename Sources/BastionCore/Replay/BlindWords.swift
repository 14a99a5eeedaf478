import BastionCrypto

/// The session catalog's search words, as keyed tokens: each word a session printed is kept
/// as `HMAC-SHA256(key, lowercased word)` (96 bits, hex), once per session, so the database
/// answers "which sessions printed these words" without holding the words. A stolen copy of
/// the database learns which sessions share a word, not what the word is; the key is derived
/// from the installation's derivation root and survives master key rotations.
///
/// Words are what SQLite's `unicode61` tokenizer would make of the text (runs of letters and
/// digits, case folded); matching is exact per word (no diacritic folding, no prefixes), and
/// a search for several words needs them all, in any order.
public struct BlindWords: Sendable {
    private let key: [UInt8]
    public static let purpose = "session-index"

    public init(key: [UInt8]) {
        self.key = key
    }

    /// The distinct tokens of `text`, in order of first appearance, space-separated.
    public func tokens(of text: String) -> String {
        var seen = Set<String>()
        var out: [String] = []
        for word in Self.words(text) {
            let token = token(word)
            if seen.insert(token).inserted { out.append(token) }
        }
        return out.joined(separator: " ")
    }

    /// A `grep` as the catalog matches it: every word of it as its token(s).
    public func query(_ grep: String) -> String {
        Self.words(grep).map(token).joined(separator: " ")
    }

    private func token(_ word: Substring) -> String {
        Hex.string(HMAC.sha256(key: key, message: Array(word.lowercased().utf8)).prefix(12))
    }

    static func words(_ text: String) -> [Substring] {
        text.split { !($0.isLetter || $0.isNumber) }
    }
}
