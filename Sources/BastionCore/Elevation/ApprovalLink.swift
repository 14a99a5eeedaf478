import BastionCrypto
import Foundation

/// The capability in an approval link, `<public_url>/approve/<token>`.
///
/// `token = ID "." base64url(HMAC-SHA256(key, "approve/" ID))`: unguessable without the key
/// (derived from the master key, which never leaves the host), so nothing secret is stored
/// or sent to the SIEM, and the chat relay can recompute it from the request id alone.
/// Single use and expiry are properties of the request (`linkUsed`, `expiresAt`).
public struct ApprovalLink: Sendable {
    private let key: [UInt8]
    private let publicURL: String

    public init(key: [UInt8], publicURL: String) {
        self.key = key
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
    }

    public func token(for id: ElevationID) -> String {
        id.rawValue + "." + Self.base64URL(HMAC.sha256(key: key, message: Array("approve/\(id)".utf8)))
    }

    public func url(for id: ElevationID) -> String {
        "\(publicURL)/approve/\(token(for: id))"
    }

    /// The request id a token was made for, or nil when the token was not made with this key.
    public func requestID(fromToken token: String) -> ElevationID? {
        guard let dot = token.firstIndex(of: "."), token.utf8.count < 200 else { return nil }
        guard let id = ElevationID(typed: String(token[..<dot])) else { return nil }
        return constantTimeEquals(Array(self.token(for: id).utf8), Array(token.utf8)) ? id : nil
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
