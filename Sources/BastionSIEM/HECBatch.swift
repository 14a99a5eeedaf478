public import BastionCore

/// A Splunk HTTP Event Collector request body: event envelopes back to back,
/// `{"time":…,"host":…,"source":"bastiond","sourcetype":…,"event":…}{…}`. HEC's batch form is
/// concatenated objects, not a JSON array (ecosystem.md §4.4).
///
/// `event` is the formatted event itself for the JSON formats (`json`, `ocsf`) and a JSON
/// string holding the CEF line for `cef`. The event id also goes into `fields.event_id`
/// (an indexed field), so Splunk searches can de-duplicate redeliveries without parsing.
public struct HECBatch: Sendable {
    public let formatter: any EventFormatter
    public let format: EventFormat
    public let host: String
    public let source: String
    public let sourcetype: String
    public let index: String?
    /// The request body so far.
    public private(set) var body: [UInt8] = []
    /// How many events are in ``body``.
    public private(set) var count = 0

    /// - Parameters:
    ///   - sourcetype: `bastion:audit`, `bastion:ocsf` or `bastion:cef` (per format) by default.
    ///   - index: the Splunk index, or nil for the token's default.
    public init(
        format: EventFormat, host: String, product: ProductIdentity = ProductIdentity(), source: String = "bastiond",
        sourcetype: String? = nil, index: String? = nil
    ) {
        self.format = format
        self.formatter = format.formatter(product: product)
        self.host = host
        self.source = source
        self.sourcetype = sourcetype ?? Self.defaultSourcetype(format)
        self.index = index
    }

    public static func defaultSourcetype(_ format: EventFormat) -> String {
        switch format {
        case .json: "bastion:audit"
        case .cef: "bastion:cef"
        case .ocsf: "bastion:ocsf"
        }
    }

    /// Adds one event's envelope.
    public mutating func append(_ event: AuditEvent, id: EventID) {
        body.append(contentsOf: envelope(event, id: id))
        count += 1
    }

    /// One event's envelope.
    public func envelope(_ event: AuditEvent, id: EventID) -> [UInt8] {
        let formatted = formatter.format(event, id: id)
        var json = CanonicalJSONWriter(capacity: formatted.count + 256)
        json.beginObject()
        json.member("time", number: Self.epochSeconds(milliseconds: event.unixMilliseconds))
        json.member("host", host)
        json.member("source", source)
        json.member("sourcetype", sourcetype)
        json.member("index", index)
        if format.isJSON {
            json.member("event", json: formatted)
        } else {
            json.member("event", String(decoding: formatted, as: UTF8.self))
        }
        json.object("fields") { fields in fields.member("event_id", id.text) }
        json.endObject()
        return json.bytes
    }

    /// Epoch seconds with three decimals (`1795390000.123`), written from integer
    /// milliseconds so no floating-point rounding moves an event across a second.
    static func epochSeconds(milliseconds: Int64) -> String {
        let magnitude = milliseconds.magnitude
        let digits = String(magnitude % 1000)
        return (milliseconds < 0 ? "-" : "") + "\(magnitude / 1000)." + String(repeating: "0", count: 3 - digits.count) + digits
    }
}
