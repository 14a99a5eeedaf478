public import Foundation

/// The text of `whoami` (and of the bare login menu).
public struct WhoamiReport: Sendable {
    public var identity: AuthenticatedIdentity
    public var now: Date

    public init(identity: AuthenticatedIdentity, now: Date) {
        self.identity = identity
        self.now = now
    }

    public var text: String {
        let roles = identity.user.roles.isEmpty ? "(none)" : identity.user.roles.joined(separator: ", ")
        var lines = [
            "user:          \(identity.user.name)",
            "roles:         \(roles)",
        ]
        switch identity.method {
        case .keyAndTOTP(let key):
            lines.append("authenticated: publickey (\(key.displayType) \(key.fingerprint)) + TOTP")
            lines.append("certificate:   none on this connection; run 'cert' to get one")
        case .certificate(let certificate):
            let expiry = Date(timeIntervalSince1970: TimeInterval(certificate.validBefore))
            let left = max(0, expiry.timeIntervalSince(now))
            lines.append("authenticated: certificate (serial \(certificate.serial), \(certificate.publicKey.displayType) \(certificate.publicKey.fingerprint))")
            lines.append("certificate:   expires \(Self.format(expiry)) (in \(DurationText.format(left.rounded(.down))))")
        }
        lines.append("from:          \(identity.connection.remoteAddress):\(identity.connection.remotePort)")
        return lines.joined(separator: "\n") + "\n"
    }

    static func format(_ date: Date) -> String {
        var style = Date.ISO8601FormatStyle()
        style.timeZone = TimeZone(identifier: "UTC")!
        return date.formatted(style)
    }
}
