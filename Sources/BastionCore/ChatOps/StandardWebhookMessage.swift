import BastionCrypto
public import Foundation

/// The `generic` webhook: a flat JSON object about one elevation event, signed per Standard
/// Webhooks (standardwebhooks.com) so any receiver can check it came from this bastion and
/// drop replays and duplicates.
///
/// `webhook-id` is the audit record's event id, stable across redeliveries (the relay is
/// at-least-once); `webhook-timestamp` is the send time, which receivers bound to refuse
/// replays; `webhook-signature` is `v1,` + base64(HMAC-SHA256(secret, "id.timestamp.body")).
public struct StandardWebhookMessage: Sendable {
    private let secret: [UInt8]

    /// `secret` as configured: `whsec_` + base64 (the Standard Webhooks form) is decoded,
    /// anything else is used as its UTF-8 bytes. Nil when a `whsec_` secret is not base64.
    public init?(secret: String) {
        guard let key = Self.key(fromSecret: secret) else { return nil }
        self.secret = key
    }

    /// The signing key `secret` stands for, or nil when a `whsec_` secret is not base64.
    public static func key(fromSecret secret: String) -> [UInt8]? {
        guard secret.hasPrefix("whsec_") else { return Array(secret.utf8) }
        guard let data = Data(base64Encoded: String(secret.dropFirst(6))), !data.isEmpty else { return nil }
        return Array(data)
    }

    public func message(_ notice: ElevationNotice, id: String, now: Date) -> ChatMessage {
        let body = Self.body(notice)
        let timestamp = String(Int64(now.timeIntervalSince1970.rounded(.down)))
        return ChatMessage(body: body, headers: [
            "webhook-id": id, "webhook-timestamp": timestamp,
            "webhook-signature": signature(id: id, timestamp: timestamp, body: body),
        ])
    }

    /// `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).
    public func signature(id: String, timestamp: String, body: [UInt8]) -> String {
        let signed = Array("\(id).\(timestamp).".utf8) + body
        return "v1," + Data(HMAC.sha256(key: secret, message: signed)).base64EncodedString()
    }

    static func body(_ notice: ElevationNotice) -> [UInt8] {
        var object: [String: Any] = [
            "type": notice.type, "request_id": notice.requestID.rawValue, "requester": notice.requester, "target": notice.target,
            "login": notice.login, "reason": notice.reason, "duration": notice.duration, "state": notice.state,
            "time": AuditEvent.timestamp(notice.time),
        ]
        object["approve_url"] = notice.approveURL
        object["approver"] = notice.approver
        object["comment"] = notice.comment
        object["close_reason"] = notice.closeReason
        object["grant_ends"] = notice.grantEnds.map(AuditEvent.timestamp)
        object["expires"] = notice.expires.map(AuditEvent.timestamp)
        return ChatMessage.json(object)
    }
}
