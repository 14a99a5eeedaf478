import BastionCrypto
public import Foundation

/// Checks Slack's signature on an interactive request (api.slack.com/authentication/verifying-requests-from-slack):
/// `X-Slack-Signature = v0=` + hex(HMAC-SHA256(signing secret, `v0:` + timestamp + `:` + raw body)),
/// compared in constant time, with the timestamp within five minutes of now so a captured
/// request cannot be replayed later.
public struct SlackRequestSignature: Sendable {
    public enum Problem: String, Sendable, Equatable {
        case missing = "no Slack signature or timestamp"
        case stale = "Slack request timestamp outside the 5-minute window"
        case forged = "Slack signature does not match"
    }

    public static let maximumSkew: TimeInterval = 5 * 60
    private let secret: [UInt8]

    public init(signingSecret: String) {
        self.secret = Array(signingSecret.utf8)
    }

    /// Nil when the request is Slack's and fresh, else what is wrong with it.
    public func problem(signature: String?, timestamp: String?, body: [UInt8], now: Date) -> Problem? {
        guard let signature, let timestamp, let seconds = Int64(timestamp) else { return .missing }
        guard abs(now.timeIntervalSince1970 - TimeInterval(seconds)) <= Self.maximumSkew else { return .stale }
        return constantTimeEquals(Array(self.signature(timestamp: timestamp, body: body).utf8), Array(signature.utf8)) ? nil : .forged
    }

    /// What Slack would send for `body` at `timestamp`.
    public func signature(timestamp: String, body: [UInt8]) -> String {
        let mac = HMAC.sha256(key: secret, message: Array("v0:\(timestamp):".utf8) + body)
        return "v0=" + Hex.string(mac)
    }
}
