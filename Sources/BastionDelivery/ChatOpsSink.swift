import AsyncHTTPClient
public import BastionCore
import Foundation
import NIOCore
import NIOHTTP1

/// One `[[chatops.webhooks]]` endpoint as a sink of the audit outbox: the relay hands it the
/// elevation records in order, it posts one chat message per record.
///
/// Riding the outbox (rather than posting from the elevation service) keeps the request
/// state machine free of chat: a webhook that is down for an hour delays the message, never
/// the decision, and the message still arrives once it is back. 2xx delivers; connection
/// errors, 5xx, 408 and 429 are retried with backoff; other 4xx are dead-lettered (the
/// receiver refuses that message; retrying cannot help).
public final class ChatOpsSink: SIEMSink, Sendable {
    public let name: String
    private let url: String
    private let formatter: ChatOpsFormatter
    private let filter: @Sendable (String) -> Bool
    private let clock: any WallClock
    private let timeout: TimeAmount

    /// - Parameter name: the outbox cursor (`chatops:<webhook name>`).
    public init(
        name: String, url: String, formatter: ChatOpsFormatter, clock: any WallClock,
        accepts filter: @escaping @Sendable (String) -> Bool, timeoutSeconds: Int64 = 15
    ) {
        self.name = name
        self.url = url
        self.formatter = formatter
        self.filter = filter
        self.clock = clock
        self.timeout = .seconds(timeoutSeconds)
    }

    public func accepts(_ type: String) -> Bool { filter(type) }

    /// Posts one message per record, in order; the first failure stops the batch (the relay
    /// retries it, or finds the refused record one by one).
    public func deliver(_ records: [SIEMRecord]) throws(SIEMDeliveryError) {
        for record in records {
            // Not about one request (a refusal without an id): nothing to tell the channel.
            guard let message = formatter.message(for: record.event, eventID: record.eventID, now: clock.now()) else { continue }
            try post(message)
        }
    }

    private func post(_ message: ChatMessage) throws(SIEMDeliveryError) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "bastiond")
        for (header, value) in message.headers.sorted(by: { $0.key < $1.key }) { request.headers.add(name: header, value: value) }
        request.body = .bytes(ByteBuffer(bytes: message.body))
        let outcome = HTTPSink.blocking { [request, timeout] in
            let response = try await HTTPClient.shared.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 4_096)
            return (response.status, String(buffer: body))
        }
        switch outcome {
        case .failure(let error):
            // The URL of a chat webhook is its secret: never in a log line or dead letter.
            throw SIEMDeliveryError(.retryable, "POST to webhook \(name): \(error)")
        case .success(let (status, body)):
            guard !(200..<300).contains(status.code) else { return }
            let reason = "HTTP \(status.code) from webhook \(name): \(body.prefix(300))"
            let retryable = status.code >= 500 || status.code == 429 || status.code == 408
            throw SIEMDeliveryError(retryable ? .retryable : .rejected, reason)
        }
    }
}
