import Foundation

/// One HTTP POST to a chat webhook: the JSON body and the headers that go with it (the
/// Standard Webhooks signature for `generic`; nothing extra for the chat services, whose
/// incoming-webhook URL is itself the secret).
public struct ChatMessage: Sendable, Equatable {
    public var body: [UInt8]
    public var headers: [String: String]

    public init(body: [UInt8], headers: [String: String] = [:]) {
        self.body = body
        self.headers = headers
    }

    /// `object` as compact JSON with sorted keys (so tests and receivers see stable bytes)
    /// and unescaped slashes (URLs stay readable).
    static func json(_ object: [String: Any]) -> [UInt8] {
        // Only strings, numbers, bools, arrays and dictionaries belong here (a typed id must go
        // in as its `rawValue`); anything else would silently become `{}`, so debug builds stop.
        assert(JSONSerialization.isValidJSONObject(object), "not JSON: \(object)")
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return Array(data)
    }
}
