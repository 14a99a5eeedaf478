public import Foundation
public import BastionCore

/// One RFC 5424 syslog message:
/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [SP MSG]`.
///
/// Header fields are restricted to printable US-ASCII and truncated to RFC 5424's lengths
/// (HOSTNAME 255, APP-NAME 48, PROCID 128, MSGID 32): anything else is dropped rather than
/// sent, because a receiver that meets a space inside a header field misparses every field
/// after it. An empty field becomes the NILVALUE `-`.
public struct SyslogMessage: Sendable, Hashable {
    /// RFC 5424 facility code; 10 is `authpriv` (security/authorization messages).
    public var facility: Int
    public var severity: SyslogSeverity
    /// Nil sends the NILVALUE, and the receiver stamps its own time.
    public var timestamp: Date?
    public var hostname: String?
    public var appName: String?
    public var procID: String?
    public var msgID: String?
    public var structuredData: [StructuredDataElement]
    /// The MSG part: the formatted event, UTF-8.
    public var message: [UInt8]
    /// Whether MSG starts with the UTF-8 BOM (RFC 5424's MSG-UTF8 form). See docs/siem.md:
    /// rsyslog keeps the BOM in `%msg%`, which breaks JSON and CEF parsers downstream, so
    /// sinks send MSG-ANY (no BOM) by default.
    public var byteOrderMark: Bool

    public static let authpriv = 10

    public init(
        facility: Int = SyslogMessage.authpriv, severity: SyslogSeverity, timestamp: Date?, hostname: String?,
        appName: String?, procID: String?, msgID: String?, structuredData: [StructuredDataElement] = [],
        message: [UInt8], byteOrderMark: Bool = false
    ) {
        self.facility = facility
        self.severity = severity
        self.timestamp = timestamp
        self.hostname = hostname
        self.appName = appName
        self.procID = procID
        self.msgID = msgID
        self.structuredData = structuredData
        self.message = message
        self.byteOrderMark = byteOrderMark
    }

    /// PRIVAL = facility × 8 + severity.
    public var priority: Int { facility * 8 + severity.rawValue }

    /// The message as sent, before framing.
    public func bytes() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.count + 256)
        out.append(contentsOf: "<\(priority)>1 ".utf8)
        out.append(contentsOf: (timestamp.map(AuditEvent.timestamp) ?? "-").utf8)
        for (field, limit) in [(hostname, 255), (appName, 48), (procID, 128), (msgID, 32)] {
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: Self.headerField(field, limit: limit))
        }
        out.append(UInt8(ascii: " "))
        if structuredData.isEmpty {
            out.append(UInt8(ascii: "-"))
        } else {
            for element in structuredData { out.append(contentsOf: element.bytes()) }
        }
        if !message.isEmpty || byteOrderMark {
            out.append(UInt8(ascii: " "))
            if byteOrderMark { out.append(contentsOf: [0xEF, 0xBB, 0xBF]) }
            out.append(contentsOf: message)
        }
        return out
    }

    /// A header field: PRINTUSASCII (33–126) only, at most `limit` octets, `-` when empty.
    static func headerField(_ value: String?, limit: Int) -> [UInt8] {
        let printable = (value ?? "").utf8.filter { $0 >= 33 && $0 <= 126 }.prefix(limit)
        return printable.isEmpty ? [UInt8(ascii: "-")] : Array(printable)
    }
}

/// RFC 5424 severities (the numeric part of PRI).
public enum SyslogSeverity: Int, Sendable, Hashable {
    case emergency = 0, alert, critical, error, warning, notice, informational, debug

    /// From the audit code's letter: I informational (6), W warning (4), E error (3),
    /// C critical (2).
    public init(_ severity: AuditSeverity) {
        switch severity {
        case .info: self = .informational
        case .warning: self = .warning
        case .error: self = .error
        case .critical: self = .critical
        }
    }
}

/// One SD-ELEMENT: `[SD-ID PARAM-NAME="value" …]`.
public struct StructuredDataElement: Sendable, Hashable {
    public var id: String
    public var parameters: [Parameter]

    public struct Parameter: Sendable, Hashable {
        public var name: String
        public var value: String

        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(id: String, parameters: [Parameter]) {
        self.id = id
        self.parameters = parameters
    }

    /// Whether `name` is a valid SD-NAME (an SD-ID or PARAM-NAME): 1–32 printable US-ASCII,
    /// none of `=`, space, `]`, `"`.
    public static func isValidName(_ name: String) -> Bool {
        let utf8 = name.utf8
        return !utf8.isEmpty && utf8.count <= 32 && utf8.allSatisfy { byte in
            byte >= 33 && byte <= 126 && byte != UInt8(ascii: "=") && byte != UInt8(ascii: "]") && byte != UInt8(ascii: "\"")
        }
    }

    /// Whether `id` is a private SD-ID `name@<IANA enterprise number>` (RFC 5424 §7.2.2):
    /// registered SD-IDs have no `@`, so ours must carry a number.
    public static func isValidPrivateID(_ id: String) -> Bool {
        guard isValidName(id), let at = id.firstIndex(of: "@") else { return false }
        let name = id[..<at], number = id[id.index(after: at)...]
        return !name.isEmpty && !number.isEmpty && !number.contains("@")
            && number.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { part in
                !part.isEmpty && part.allSatisfy(\.isASCII) && part.allSatisfy(\.isNumber)
            }
    }

    /// PARAM-VALUE escaping (RFC 5424 §6.3.3): `"`, `\` and `]` get a backslash; all other
    /// UTF-8 goes as it is.
    public static func escape(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            if scalar == "\"" || scalar == "\\" || scalar == "]" { out += "\\" }
            out.unicodeScalars.append(scalar)
        }
        return out
    }

    func bytes() -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "[")]
        out.append(contentsOf: Self.sanitizedName(id).utf8)
        for parameter in parameters {
            out.append(UInt8(ascii: " "))
            out.append(contentsOf: Self.sanitizedName(parameter.name).utf8)
            out.append(contentsOf: "=\"".utf8)
            out.append(contentsOf: Self.escape(parameter.value).utf8)
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// Names are ours (constants and a validated SD-ID); dropping invalid characters keeps
    /// a frame parseable even if one slips through.
    private static func sanitizedName(_ name: String) -> String {
        let kept = name.utf8.filter { byte in
            byte >= 33 && byte <= 126 && byte != UInt8(ascii: "=") && byte != UInt8(ascii: "]") && byte != UInt8(ascii: "\"")
        }.prefix(32)
        return kept.isEmpty ? "x" : String(decoding: kept, as: UTF8.self)
    }
}
