public import BastionCore
import Foundation

/// Turns one audit event into the bytes a SIEM ingests. Pure: same event and id, same bytes
/// (a redelivered record must look exactly like the first delivery).
public protocol EventFormatter: Sendable {
    /// The formatted event (UTF-8), without any transport framing.
    func format(_ event: AuditEvent, id: EventID) -> [UInt8]
}

/// The formats a sink can be configured with (`format = "json" | "cef" | "ocsf"`).
public enum EventFormat: String, Sendable, CaseIterable {
    /// Bastion's own JSON: the documented audit schema, in an envelope with the event id.
    case json
    /// ArcSight Common Event Format, version 0.
    case cef
    /// Open Cybersecurity Schema Framework 1.x JSON.
    case ocsf

    /// The formatter for this format.
    public func formatter(product: ProductIdentity = ProductIdentity()) -> any EventFormatter {
        switch self {
        case .json: BastionJSONFormatter()
        case .cef: CEFFormatter(product: product)
        case .ocsf: OCSFFormatter(product: product)
        }
    }

    /// Whether the formatted bytes are a JSON object (they can be embedded as one, e.g. in a
    /// Splunk HEC envelope) rather than a line of text.
    public var isJSON: Bool { self != .cef }
}

/// Who produced the events, as CEF's header and OCSF's `metadata.product` name it.
public struct ProductIdentity: Sendable, Hashable {
    public var vendor: String
    public var name: String
    public var version: String

    public init(vendor: String = "Bastion", name: String = "bastiond", version: String = "0.1") {
        self.vendor = vendor
        self.name = name
        self.version = version
    }
}

extension AuditEvent {
    /// Milliseconds since the Unix epoch, truncated as the audit record's `time` is (so every
    /// format names the same millisecond as the chained record).
    var unixMilliseconds: Int64 {
        Int64((time.timeIntervalSince1970 * 1000).rounded(.down))
    }
}
