import BastionCore
import BastionStore
import BastionTesting
import Foundation
import Testing

@Suite("Web session store")
struct SQLiteWebSessionStoreTests {
    @Test("a sign-in link is used once; late use is refused and uses it up; sessions expire and are removed")
    func links() throws {
        let directory = try TemporaryDirectory()
        let store = try DatabasePoolHandle(path: directory.file("db.sqlite")).webSessions
        let carol = try #require(UserName("carol"))
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        try store.addSignInLink(tokenHash: "h1", user: carol, createdAt: now, expiresAt: now.addingTimeInterval(60))
        try store.addSignInLink(tokenHash: "h2", user: carol, createdAt: now, expiresAt: now.addingTimeInterval(60))
        #expect(try store.consumeSignInLink(tokenHash: "h1", now: now.addingTimeInterval(59)) == .valid(carol))
        #expect(try store.consumeSignInLink(tokenHash: "h1", now: now.addingTimeInterval(59)) == .used(carol))
        #expect(try store.consumeSignInLink(tokenHash: "h2", now: now.addingTimeInterval(60)) == .expired(carol))
        #expect(try store.consumeSignInLink(tokenHash: "h2", now: now.addingTimeInterval(60)) == .used(carol))
        #expect(try store.consumeSignInLink(tokenHash: "nope", now: now) == .unknown)

        let session = WebSession(tokenHash: "s1", user: carol, createdAt: now, expiresAt: now.addingTimeInterval(3_600))
        try store.addWebSession(session)
        #expect(try store.webSession(tokenHash: "s1", now: now.addingTimeInterval(3_599)) == session)
        #expect(try store.webSession(tokenHash: "s1", now: now.addingTimeInterval(3_600)) == nil)
        #expect(try store.purgeWebSessions(expiredBefore: now.addingTimeInterval(3_601)) == 3)
        #expect(try store.removeWebSession(tokenHash: "s1") == nil)
        try store.addWebSession(session)
        #expect(try store.removeWebSession(tokenHash: "s1") == session)
        #expect(try store.webSession(tokenHash: "s1", now: now) == nil)
    }
}
