public import BastionCore

/// Bastion JSON: the audit event's canonical JSON (docs/audit-events.md) inside an envelope
/// that adds the event id: `{"event":<canonical event>,"id":"bastion-<inst>-<seq>","seq":<seq>}`.
///
/// An envelope rather than an extra field, because the event bytes then stay exactly the
/// bytes the hash chain covers: a SIEM can rebuild the chained record
/// `{"event":…,"seq":…}` (docs/audit-chain.md) from what it received and check it against an
/// export or a checkpoint. The envelope's keys are sorted too, so it is canonical JSON as well.
public struct BastionJSONFormatter: EventFormatter {
    public init() {}

    public func format(_ event: AuditEvent, id: EventID) -> [UInt8] {
        var json = CanonicalJSONWriter()
        json.beginObject()
        json.member("event", json: event.canonicalJSON())
        json.member("id", id.text)
        json.member("seq", id.seq)
        json.endObject()
        return json.bytes
    }
}
