@testable import BastionCore
import Testing

@Suite("Web view tokens")
struct WebSessionTokenTests {
    @Test("tokens are 43 base64url characters; anything else is not looked up")
    func tokens() {
        let token = WebSessions.newToken()
        #expect(WebSessions.isWellFormed(token) && token != WebSessions.newToken())
        #expect(!WebSessions.isWellFormed(token + "A") && !WebSessions.isWellFormed(String(token.dropLast()) + "="))
        #expect(WebSessions.hash(token).count == 64 && WebSessions.hash(token) != token)
    }
}
