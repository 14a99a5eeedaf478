import BastionCore
import BastionCrypto
@testable import BastionHTTP
import BastionStore
import BastionTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

/// The web view's live watch through the daemon's router (no sockets): who gets a live page,
/// that a refusal does not tell whether the session exists, and that the stream cannot be
/// opened from another site. The stream itself is tested with a real session (WebViewTests).
@Suite("Web view live watch routes")
struct LiveWatchRouteTests {
    static func broadcasts() -> (LiveSessionBroadcasts, SessionBroadcast) {
        let broadcasts = LiveSessionBroadcasts()
        let broadcast = SessionBroadcast(info: .init(
            id: "live0001", user: "alice", login: "deploy", target: "web01", grantID: nil, startedAt: Date(timeIntervalSince1970: 1_800_000_000)
        ))
        broadcasts.register(broadcast)
        return (broadcasts, broadcast)
    }

    /// A web session for `name` straight in the store (as if signed in while still an auditor).
    static func cookie(for name: String, fixture: RouteTests.Fixture) throws -> String {
        let token = String(repeating: "a", count: 38) + String(name.prefix(5)).padding(toLength: 5, withPad: "x", startingAt: 0)
        try fixture.webStore.addWebSession(WebSession(
            tokenHash: Hex.string(SHA256.hash(Array(token.utf8))), user: try #require(UserName(name)), createdAt: fixture.clock.now(),
            expiresAt: fixture.clock.now().addingTimeInterval(3_600)
        ))
        return "bastion_session=\(token)"
    }

    @Test("an auditor sees live sessions listed and gets a live page; an unknown id is not found; nothing shown before sign-in")
    func auditorPage() async throws {
        let fixture = try RouteTests.Fixture()
        let (broadcasts, broadcast) = Self.broadcasts()
        let carol = try Self.cookie(for: "carol", fixture: fixture)
        try await fixture.application(broadcasts: broadcasts).test(.router) { client in
            for uri in ["/live/live0001", "/live/live0001/events", "/live/nosuch", "/live/nosuch/events"] {
                try await client.execute(uri: uri, method: .get) {
                    #expect($0.status == .seeOther && $0.headers[.location] == "/signin", "\(uri)")
                }
            }
            try await client.execute(uri: "/sessions", method: .get, headers: [.cookie: carol]) {
                let body = String(buffer: $0.body)
                #expect($0.status == .ok && body.contains("Live sessions") && body.contains("href=\"/live/live0001\""), "\(body)")
            }
            try await client.execute(uri: "/live/live0001", method: .get, headers: [.cookie: carol]) {
                let body = String(buffer: $0.body)
                #expect($0.status == .ok && body.contains("data-stream=\"/live/live0001/events\"") && !body.contains("<script>"), "\(body)")
                #expect($0.headers[.cacheControl] == "no-store" && $0.headers[.contentSecurityPolicy] == WebRoutes.contentSecurityPolicy)
            }
            try await client.execute(uri: "/live/nosuch", method: .get, headers: [.cookie: carol]) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/live/nosuch/events", method: .get, headers: [.cookie: carol]) { #expect($0.status == .notFound) }
        }
        #expect(broadcast.watchers == 0, "a page is not a watch: only the stream attaches")
        let refused = fixture.refusals(.sessionWatch)
        #expect(refused.count == 2 && refused.allSatisfy { $0.outcome == .failure && $0.details["via"] == "web" }, "\(refused)")
        #expect(broadcast.takeRequests() == nil, "nobody watched: the user is told nothing")
    }

    @Test("a user who is no longer an auditor gets the same answer for a live session and an unknown id, and no watch")
    func nonAuditor() async throws {
        let fixture = try RouteTests.Fixture()
        let (broadcasts, broadcast) = Self.broadcasts()
        let app = fixture.application(broadcasts: broadcasts)
        let answers = try await app.test(.router) { client in
            var answers: [String] = []
            for uri in ["/live/live0001", "/live/nosuch", "/live/live0001/events", "/live/nosuch/events"] {
                // alice (ops) and bob (approver) hold web sessions but are not auditors.
                for name in ["alice", "bob"] {
                    let cookie = try Self.cookie(for: name, fixture: fixture)
                    let answer = try await client.execute(uri: uri, method: .get, headers: [.cookie: cookie]) {
                        "\($0.status.code) \($0.headers[.location] ?? "") \(String(buffer: $0.body))"
                    }
                    answers.append(answer)
                }
            }
            try await client.execute(uri: "/sessions", method: .get) { #expect(!String(buffer: $0.body).contains("live0001")) }
            return answers
        }
        #expect(Set(answers) == ["303 /signin "], "\(answers)")
        #expect(broadcast.watchers == 0 && broadcast.takeRequests() == nil)
        #expect(fixture.refusals(.webRefused).count == 8 && fixture.refusals(.webRefused).allSatisfy { $0.reason == "not an auditor" })
    }

    @Test("the stream refuses a request another site's page made, before any watch starts")
    func crossSite() async throws {
        let fixture = try RouteTests.Fixture()
        let (broadcasts, broadcast) = Self.broadcasts()
        let carol = try Self.cookie(for: "carol", fixture: fixture)
        try await fixture.application(broadcasts: broadcasts).test(.router) { client in
            for site in ["cross-site", "same-site", "none"] {
                let headers: HTTPFields = [.cookie: carol, HTTPField.Name("Sec-Fetch-Site")!: site]
                try await client.execute(uri: "/live/live0001/events", method: .get, headers: headers) { #expect($0.status == .forbidden, "\(site)") }
            }
        }
        #expect(broadcast.watchers == 0 && broadcast.takeRequests() == nil)
        #expect(fixture.refusals(.sessionWatch).isEmpty)
        #expect(fixture.refusals(.webRefused).count == 3)
    }

    /// Waits (without a clock) until the stream has attached its watcher.
    static func attached(_ broadcast: SessionBroadcast) async throws {
        while broadcast.watchers == 0 { try await Task.sleep(for: .milliseconds(5)) }
    }

    @Test("the stream: the backlog, then live output, then the end; the user is told; watch and watch_end audited with via web")
    func stream() async throws {
        let fixture = try RouteTests.Fixture()
        let (broadcasts, broadcast) = Self.broadcasts()
        Array("backlog-1\r\n".utf8).withUnsafeBytes { broadcast.offer($0) }
        let carol = try Self.cookie(for: "carol", fixture: fixture)
        let body = try await fixture.application(broadcasts: broadcasts).test(.router) { client in
            async let response = client.execute(
                uri: "/live/live0001/events", method: .get, headers: [.cookie: carol, HTTPField.Name("Sec-Fetch-Site")!: "same-origin"]
            )
            try await Self.attached(broadcast)
            Array("live-2\r\n".utf8).withUnsafeBytes { broadcast.offer($0) }
            broadcasts.unregister(broadcast)
            let answer = try await response
            #expect(answer.status == .ok && answer.headers[.contentType] == "text/event-stream" && answer.headers[.cacheControl] == "no-store")
            return String(buffer: answer.body)
        }
        #expect(body.hasPrefix(LiveEventStream.reset()), "no PTY: 80x24")
        #expect(body.contains("backlog-1") && body.contains("live-2") && body.contains("[session ended]"), "\(body)")
        #expect(body.hasSuffix(LiveEventStream.done))
        #expect(broadcast.takeRequests()?.watchersJoined == ["carol"], "the session's thread tells the user")
        #expect(broadcast.watchers == 0)
        let watch = try #require(fixture.refusals(.sessionWatch).first)
        #expect(watch.outcome == .success && watch.details["via"] == "web" && watch.details["as"] == "auditor" && watch.actor?.user == "carol")
        let end = try #require(fixture.refusals(.sessionWatchEnd).first)
        #expect(end.details["end"] == "session ended" && end.details["via"] == "web" && end.details["bytes"] == "19", "\(end)")
    }

    @Test("signing out ends a watch in progress: the stream says so and closes")
    func signedOutDuringWatch() async throws {
        let fixture = try RouteTests.Fixture()
        let (broadcasts, broadcast) = Self.broadcasts()
        let carol = try Self.cookie(for: "carol", fixture: fixture)
        let body = try await fixture.application(broadcasts: broadcasts).test(.router) { client in
            async let response = client.execute(uri: "/live/live0001/events", method: .get, headers: [.cookie: carol])
            try await Self.attached(broadcast)
            try await client.execute(uri: "/signout", method: .post, headers: [.cookie: carol]) { #expect($0.status == .seeOther) }
            return String(buffer: try await response.body)
        }
        #expect(body.contains("you may no longer watch this session") && body.hasSuffix(LiveEventStream.done), "\(body)")
        #expect(fixture.refusals(.sessionWatchEnd).first?.details["end"] == "permission withdrawn")
        #expect(broadcast.watchers == 0 && !broadcast.isEnded)
    }

    @Test("the event stream: a reset, output cut inside a UTF-8 sequence kept whole, the end")
    func eventStream() {
        var stream = LiveEventStream()
        #expect(LiveEventStream.reset() == "data: {\"cols\":80,\"rows\":24,\"time\":0}\n\n")
        let euro = Array("€".utf8)
        #expect(stream.output(Array("ab".utf8) + euro.prefix(2), at: 0.5) == "data: [0.5,\"o\",\"ab\"]\n\n")
        #expect(stream.output([euro[2]] + Array("\u{1b}[0m".utf8), at: 1) == "data: [1,\"o\",\"€\\u001b[0m\"]\n\n")
        #expect(stream.output(Array(euro.prefix(1)), at: 2) == nil)
        #expect(stream.finish("[session ended]", at: 3).hasPrefix("data: [3,\"o\",\""))
        #expect(LiveEventStream.resize(cols: 132, rows: 43, at: 1.25) == "data: [1.25,\"r\",{\"cols\":132,\"rows\":43}]\n\n")
        #expect(LiveEventStream.completePrefix([]) == 0 && LiveEventStream.completePrefix(Array("é".utf8)) == 2)
        #expect(WebRoutes.safeNext("/live/abc-1") == "/live/abc-1" && WebRoutes.safeNext("/live/abc/events") == nil)
    }
}
