public import BastionCore
#if canImport(Glibc)
import Glibc
#endif

/// ArcSight Common Event Format, version 0:
/// `CEF:0|Bastion|bastiond|<version>|<code>|<type>|<severity>|<extension>`.
///
/// The header's Device Event Class ID is the stable code (`B1000I`) and its Name the dotted
/// type (`auth.login`): SIEM rules match on either. Severity comes from the code's letter on
/// CEF's 0–10 scale (I 3 Low, W 6 Medium, E 8 High, C 10 Very-High). The extension uses the
/// standard keys where one fits (`suser`, `src`/`shost`, `spt`, `duser`, `dhost`, `rt`,
/// `externalId`, `outcome`, `reason`, `act`, `cat`) and labelled custom strings for the rest;
/// the mapping table is in docs/siem.md.
public struct CEFFormatter: EventFormatter {
    public var product: ProductIdentity

    public init(product: ProductIdentity = ProductIdentity()) {
        self.product = product
    }

    public func format(_ event: AuditEvent, id: EventID) -> [UInt8] {
        let header = [
            "CEF:0", Self.escapeHeader(product.vendor), Self.escapeHeader(product.name), Self.escapeHeader(product.version),
            Self.escapeHeader(event.type.code), Self.escapeHeader(event.type.name), String(Self.severity(event.type.severity)),
        ].joined(separator: "|")
        let pairs = Self.extensionPairs(event, id: id)
        let extensionText = pairs.map { "\($0.key)=\(Self.escapeExtensionValue($0.value))" }.joined(separator: " ")
        return Array((header + "|" + extensionText).utf8)
    }

    /// CEF severity 0–10 for an audit severity.
    public static func severity(_ severity: AuditSeverity) -> Int {
        switch severity {
        case .info: 3
        case .warning: 6
        case .error: 8
        case .critical: 10
        }
    }

    /// Header fields escape `\` and `|` with a backslash (CEF spec, "Header Information").
    /// A line break cannot be escaped in the header and would end the event, so it becomes a space.
    public static func escapeHeader(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for character in value.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "|": out += "\\|"
            case "\r", "\n": out += " "
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// Extension values escape `\` and `=` with a backslash and write line breaks as `\n` and
    /// `\r` (CEF spec, "Extension"); `|` needs no escape there.
    public static func escapeExtensionValue(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for character in value.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "=": out += "\\="
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// The extension's `key=value` pairs in a fixed order (unescaped values).
    static func extensionPairs(_ event: AuditEvent, id: EventID) -> [(key: String, value: String)] {
        var pairs: [(key: String, value: String)] = [
            ("rt", String(event.unixMilliseconds)),
            ("externalId", id.text),
            ("cat", category(of: event.type.name)),
            ("act", event.type.name),
            ("outcome", event.outcome.rawValue),
        ]
        func add(_ key: String, _ value: String?) {
            if let value { pairs.append((key, value)) }
        }
        func addCustom(_ slot: String, label: String, _ value: String?) {
            guard let value else { return }
            pairs.append((slot + "Label", label))
            pairs.append((slot, value))
        }
        add("reason", event.reason)
        add("suser", event.actor?.user)
        if let connection = event.connection {
            pairs.append((isIPAddress(connection.remoteAddress) ? "src" : "shost", connection.remoteAddress))
            pairs.append(("spt", String(connection.remotePort)))
        }
        var targetMapped = false
        switch targetKind(of: event.type.name) {
        case .user:
            add("duser", event.target)
            targetMapped = event.target != nil
        case .host:
            add("dhost", event.target)
            targetMapped = event.target != nil
            add("duser", event.session?.login)
        case .other:
            add("duser", event.session?.login)
        }
        addCustom("cs1", label: "sessionId", event.session?.id.rawValue)
        addCustom("cs2", label: "connectionId", event.connection?.id.rawValue)
        addCustom("cs3", label: "authMethod", event.actor?.method)
        addCustom("cs4", label: "keyFingerprint", event.actor?.keyFingerprint)
        addCustom("cs5", label: "target", targetMapped ? nil : event.target)
        if !event.details.isEmpty {
            var json = CanonicalJSONWriter()
            json.beginObject()
            for key in event.details.keys.sorted() { json.member(key, event.details[key]) }
            json.endObject()
            addCustom("cs6", label: "details", String(decoding: json.bytes, as: UTF8.self))
        }
        addCustom("flexString1", label: "sshUsername", event.connection?.sshUsername)
        addCustom("flexString2", label: "certificateSerial", event.actor?.certificateSerial)
        return pairs
    }

    private enum TargetKind { case user, host, other }

    /// What an event's `target` names: a user for user administration, a host for sessions
    /// and target checks, something else (a file, a key) otherwise.
    private static func targetKind(of type: String) -> TargetKind {
        switch category(of: type) {
        case "user": .user
        case "session", "target": .host
        default: .other
        }
    }

    /// The type's first dotted component (`auth` for `auth.login`).
    static func category(of type: String) -> String {
        String(type.prefix { $0 != "." })
    }

    /// `src` must be an IP address in CEF; a host name goes to `shost`.
    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
