import BastionCore
import Testing

@Suite("Blind search words")
struct BlindWordsTests {
    let words = BlindWords(key: Array(repeating: 7, count: 32))

    @Test("a search finds the tokens of what was printed, case folded, each word once; no word is kept")
    func tokens() {
        let stored = words.tokens(of: "Deploying app-v2 ... deploying DONE: root password is hunter2")
        #expect(!stored.contains("hunter2") && !stored.lowercased().contains("deploy"))
        let tokens = stored.split(separator: " ").map(String.init)
        #expect(tokens.count == Set(tokens).count, "each word once")
        #expect(tokens.count == 8)
        for query in ["deploying", "HUNTER2", "app-v2", "done root"] {
            #expect(words.query(query).split(separator: " ").allSatisfy { tokens.contains(String($0)) }, "\(query)")
        }
        #expect(!tokens.contains(words.query("hunter3")))
        #expect(words.query("...").isEmpty)
    }

    @Test("another installation's key gives other tokens")
    func keyed() {
        #expect(BlindWords(key: Array(repeating: 8, count: 32)).tokens(of: "hunter2") != words.tokens(of: "hunter2"))
    }
}
