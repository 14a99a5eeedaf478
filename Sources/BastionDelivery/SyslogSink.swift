public import BastionCore
public import BastionSIEM

/// The `syslog` sink: RFC 5424 messages, octet-counted, over TCP or TLS.
///
/// Plain syslog has no acknowledgement, so a batch written just before the receiver goes
/// away can vanish without an error. The sink therefore keeps the last batch it wrote until
/// a later write on the same connection succeeds, and writes it again first after every
/// reconnect: at least once, with the same event ids (receivers de-duplicate on them).
public final class SyslogSink: SIEMSink, @unchecked Sendable {
    public let name: String
    private let filter: @Sendable (String) -> Bool
    private let encoder: SyslogEventEncoder
    // Touched only by the relay's thread.
    private let sender: SyslogSender
    private var unconfirmed: [UInt8] = []

    public init(name: String, sender: SyslogSender, encoder: SyslogEventEncoder, accepts filter: @escaping @Sendable (String) -> Bool) {
        self.name = name
        self.sender = sender
        self.encoder = encoder
        self.filter = filter
    }

    public func accepts(_ type: String) -> Bool { filter(type) }

    public func deliver(_ records: [SIEMRecord]) throws(SIEMDeliveryError) {
        var framed: [UInt8] = []
        for record in records {
            framed += encoder.frame(for: record.event, id: EventID(seq: record.seq, text: record.eventID))
        }
        do {
            if !sender.isConnected {
                try sender.connect()
                if !unconfirmed.isEmpty { try sender.send(unconfirmed) }
            }
            try sender.send(framed)
        } catch {
            throw SIEMDeliveryError(error.code == .invalidConfiguration ? .rejected : .retryable, error.description)
        }
        unconfirmed = framed
    }
}
