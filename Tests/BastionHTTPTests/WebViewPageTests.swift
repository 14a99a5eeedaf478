import BastionCore
@testable import BastionHTTP
import Foundation
import Testing

@Suite("Web view pages")
struct WebViewPageTests {
    @Test("markers and the recording's length come from the cast; bad lines are skipped")
    func markers() {
        let cast = """
            {"version": 2, "width": 80, "height": 24}
            [0.5, "o", "$ sudo -i\\r\\n"]
            [1.25, "m", "sudo <request> & \\"quotes\\""]
            not json
            [3.0, "m", ""]
            [4.5, "o", "bye"]
            [5.0, "o", "trunc
            """
        let (markers, length) = WebPage.markers(in: Data(cast.utf8))
        #expect(markers == [.init(time: 1.25, label: "sudo <request> & \"quotes\""), .init(time: 3, label: "")])
        #expect(length == 4.5)
        #expect(WebPage.clock(3_725.9) == "01:02:05")
    }

    @Test("the player page escapes what it shows and carries the markers as data, with no inline script")
    func playerPage() {
        let session = IndexedSession(
            id: "s1<x>", user: "alice", login: "root", target: "web01", sourceAddress: "127.0.0.1", startedAt: Date(timeIntervalSince1970: 0),
            duration: 61, exitStatus: "0", endReason: "closed", recording: "/r.cast", recordingSize: 2_048, recordingSHA256: "ab", elevationRequest: nil,
            auditSeq: 1
        )
        let html = WebPage.player(session, markers: [.init(time: 1.25, label: "<b>sudo</b>")], length: 4.5, viewer: "carol")
        #expect(html.contains("Session s1&lt;x&gt;") && !html.contains("s1<x>"))
        #expect(html.contains("data-markers=\"[[1.25,&quot;&lt;b&gt;sudo&lt;\\/b&gt;&quot;]]\"") || html.contains("data-markers=\"[[1.25,&quot;&lt;b&gt;sudo&lt;/b&gt;&quot;]]\""), "\(html)")
        #expect(html.contains("data-seek=\"1.250\"") && html.contains("&lt;b&gt;sudo&lt;/b&gt;"))
        #expect(html.contains("data-poster=\"npt:5.500\""), "a second past the last event: the frame as the session left it")
        #expect(!html.contains("<script>"))
    }

    @Test("a sign-in link's next may only lead to the session list or one session")
    func nextPaths() {
        #expect(WebRoutes.safeNext("/sessions") == "/sessions")
        #expect(WebRoutes.safeNext("/sessions/a1B2-c3") == "/sessions/a1B2-c3")
        for bad in ["//evil.example", "https://evil.example/sessions", "/sessions/../signout", "/sessions/x/cast/..", "/sessions/..", "/sessionsX", "/sessions/a b", ""] {
            #expect(WebRoutes.safeNext(bad) == nil, "\(bad)")
        }
    }
}
