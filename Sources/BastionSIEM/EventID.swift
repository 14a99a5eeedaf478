/// The stable id of one audit record on its way to a SIEM: `bastion-<installation>-<seq>`.
///
/// Delivery is at least once, so a receiver sees some records twice (after a reconnect, a
/// restart); the id is what it de-duplicates on. It is derived from the record's `seq`, never
/// from a delivery attempt, so every retry of a record carries the same id.
public struct EventID: Sendable, Hashable, CustomStringConvertible {
    /// The audit record's position in the chain.
    public let seq: Int64
    /// The id as sent: `bastion-<installation>-<seq>` unless made elsewhere.
    public let text: String

    /// The id of record `seq` of installation `installation` (a name unique in the
    /// organisation, e.g. the data directory's UUID or the host name).
    public init(installation: String, seq: Int64) {
        self.seq = seq
        self.text = "bastion-\(installation)-\(seq)"
    }

    /// An id already made by someone else (an outbox row), kept verbatim.
    public init(seq: Int64, text: String) {
        self.seq = seq
        self.text = text
    }

    public var description: String { text }
}
