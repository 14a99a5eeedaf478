/// One audit record on its way to a SIEM: the event, its canonical bytes, and an id that
/// stays the same across redeliveries so a receiver can drop duplicates.
public struct SIEMRecord: Sendable {
    public var seq: Int64
    /// `bastion-<installation>-<seq>`: unique per installation, stable across retries.
    public var eventID: String
    public var event: AuditEvent
    /// The event's canonical JSON exactly as chained (what the `json` format sends).
    public var canonicalJSON: [UInt8]

    public init(seq: Int64, eventID: String, event: AuditEvent, canonicalJSON: [UInt8]) {
        self.seq = seq
        self.eventID = eventID
        self.event = event
        self.canonicalJSON = canonicalJSON
    }
}

/// Why a delivery did not happen, and whether trying again can help.
public struct SIEMDeliveryError: Error, CustomStringConvertible {
    public enum Kind: Sendable {
        /// Network down, receiver restarting, 5xx: keep the records and retry with backoff.
        case retryable
        /// The receiver refused these records (4xx): retrying cannot help; they go to the
        /// dead-letter table with the reason, and delivery moves on.
        case rejected
    }

    public var kind: Kind
    public var reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    public var description: String { reason }
}

/// A destination for audit records (syslog, HTTP, file). A sink formats and sends; the
/// relay decides order, batching, retries and bookkeeping.
public protocol SIEMSink: Sendable {
    var name: String { get }
    /// Whether this sink wants events of this dotted type (its `events` globs).
    func accepts(_ type: String) -> Bool
    /// Sends `records` in order; returns only when the receiver has them (or throws).
    func deliver(_ records: [SIEMRecord]) throws(SIEMDeliveryError)
}
