import BastionCore
import Foundation
import Testing

/// Slack's request signing, against the example in Slack's documentation.
@Suite("Chat-ops Slack request signature")
struct ChatOpsSlackSignatureTests {
    static let secret = "8f742231b10e8888abcd99yyyzzz85a5"
    static let body = Array(("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar"
        + "&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands"
        + "%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c").utf8)
    static let expected = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
    static let now = Date(timeIntervalSince1970: 1_531_420_618 + 60)

    @Test("Slack's documented example verifies")
    func documentedVector() {
        let verifier = SlackRequestSignature(signingSecret: Self.secret)
        #expect(verifier.signature(timestamp: "1531420618", body: Self.body) == Self.expected)
        #expect(verifier.problem(signature: Self.expected, timestamp: "1531420618", body: Self.body, now: Self.now) == nil)
    }

    @Test("forged, stale and missing are told apart (for the audit record)")
    func refusals() {
        let verifier = SlackRequestSignature(signingSecret: Self.secret)
        var tampered = Self.body
        tampered[0] = UInt8(ascii: "x")
        #expect(verifier.problem(signature: Self.expected, timestamp: "1531420618", body: tampered, now: Self.now) == .forged)
        #expect(SlackRequestSignature(signingSecret: "other").problem(signature: Self.expected, timestamp: "1531420618", body: Self.body, now: Self.now) == .forged)
        #expect(verifier.problem(signature: Self.expected, timestamp: "1531420618", body: Self.body, now: Self.now.addingTimeInterval(301)) == .stale)
        #expect(verifier.problem(signature: nil, timestamp: "1531420618", body: Self.body, now: Self.now) == .missing)
        #expect(verifier.problem(signature: Self.expected, timestamp: "soon", body: Self.body, now: Self.now) == .missing)
    }
}
