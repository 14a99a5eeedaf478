import BastionCrypto
import Testing

@Suite("Secrets stay out of logs")
struct CryptoRedactionTests {
    @Test("String(reflecting:) of key holders never shows the secret bytes")
    func reflection() throws {
        let key = try Ed25519PrivateKey()
        let symmetric = SymmetricKey.random()
        let seedHex = key.seed.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        let seedDecimal = key.seed.map(String.init).joined(separator: ", ")
        for text in [String(reflecting: key), String(describing: key), "\(key)"] {
            #expect(!text.contains(seedHex) && !text.contains(seedDecimal), "\(text)")
        }
        let symmetricDecimal = symmetric.bytes.map(String.init).joined(separator: ", ")
        #expect(!String(reflecting: symmetric).contains(symmetricDecimal))
        #expect(!String(reflecting: [key]).contains(seedDecimal))
    }
}
