public import BastionCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Makes the RFC 5424 message, framed with octet counting, that a syslog sink sends for one
/// audit event.
///
/// PRI is `authpriv` (10) with the severity of the event code's letter; MSGID is the dotted
/// event type; STRUCTURED-DATA is one element under a private SD-ID (`bastion@32473` by
/// default: 32473 is the PEN RFC 5612 reserves for documentation, so an organisation with its
/// own PEN configures it) carrying the fields a SIEM indexes without parsing MSG; MSG is the
/// event in the sink's format.
public struct SyslogEventEncoder: Sendable {
    public let formatter: any EventFormatter
    public let structuredDataID: String
    public let hostname: String
    public let appName: String
    public let procID: String
    public let byteOrderMark: Bool

    /// The SD-ID used when none is configured.
    public static let defaultStructuredDataID = "bastion@32473"

    /// - Parameters:
    ///   - structuredDataID: `name@PEN`; refused unless it is a valid private SD-ID.
    ///   - hostname: HOSTNAME; the machine's host name by default.
    ///   - procID: PROCID; this process's PID by default.
    ///   - byteOrderMark: start MSG with the UTF-8 BOM (off by default: see docs/siem.md).
    public init(
        format: EventFormat, product: ProductIdentity = ProductIdentity(),
        structuredDataID: String = SyslogEventEncoder.defaultStructuredDataID, hostname: String? = nil,
        appName: String = "bastiond", procID: String? = nil, byteOrderMark: Bool = false
    ) throws(SIEMError) {
        guard StructuredDataElement.isValidPrivateID(structuredDataID) else {
            throw SIEMError(
                .invalidConfiguration,
                "structured data id \"\(structuredDataID)\" is not name@<enterprise number> (at most 32 printable ASCII, no = ] \" or space)"
            )
        }
        self.formatter = format.formatter(product: product)
        self.structuredDataID = structuredDataID
        self.hostname = hostname ?? Self.machineHostname()
        self.appName = appName
        self.procID = procID ?? String(getpid())
        self.byteOrderMark = byteOrderMark
    }

    /// The syslog message for `event`.
    public func message(for event: AuditEvent, id: EventID) -> SyslogMessage {
        var parameters: [StructuredDataElement.Parameter] = [
            .init("id", id.text),
            .init("code", event.type.code),
            .init("outcome", event.outcome.rawValue),
        ]
        if let user = event.actor?.user { parameters.append(.init("user", user)) }
        if let connection = event.connection { parameters.append(.init("src", connection.remoteAddress)) }
        if let session = event.session { parameters.append(.init("session", session.id.rawValue)) }
        if let target = event.target { parameters.append(.init("target", target)) }
        return SyslogMessage(
            severity: SyslogSeverity(event.type.severity), timestamp: event.time, hostname: hostname, appName: appName,
            procID: procID, msgID: event.type.name,
            structuredData: [StructuredDataElement(id: structuredDataID, parameters: parameters)],
            message: formatter.format(event, id: id), byteOrderMark: byteOrderMark
        )
    }

    /// The octet-counted frame for `event`, ready for ``SyslogSender/send(_:)``.
    public func frame(for event: AuditEvent, id: EventID) -> [UInt8] {
        OctetCounting.frame(message(for: event, id: id).bytes())
    }

    private static func machineHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "-" }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
