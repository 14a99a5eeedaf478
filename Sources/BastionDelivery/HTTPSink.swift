import AsyncHTTPClient
public import BastionCore
public import BastionSIEM
import Foundation
import NIOCore
import NIOHTTP1

/// The `http` sink: Splunk HEC-compatible JSON batches (event envelopes back to back),
/// `Authorization: Splunk <token>` for a `/services/collector` URL and `Bearer <token>`
/// otherwise (a token that already names its scheme is sent as written).
///
/// 2xx delivers; 5xx, 429 and network errors are retried with backoff; other 4xx mean the
/// receiver refuses these events: the relay dead-letters them with the status and body.
public final class HTTPSink: SIEMSink, @unchecked Sendable {
    public let name: String
    private let url: String
    private let authorization: String?
    private let format: EventFormat
    private let hostname: String
    private let filter: @Sendable (String) -> Bool
    private let timeout: TimeAmount

    public init(
        name: String, url: String, token: String?, format: EventFormat, hostname: String? = nil,
        accepts filter: @escaping @Sendable (String) -> Bool, timeoutSeconds: Int64 = 30
    ) {
        self.name = name
        self.url = url
        self.authorization = token.map { Self.authorization(token: $0, url: url) }
        self.format = format
        self.hostname = hostname ?? ProcessInfo.processInfo.hostName
        self.filter = filter
        self.timeout = .seconds(timeoutSeconds)
    }

    static func authorization(token: String, url: String) -> String {
        if token.hasPrefix("Splunk ") || token.hasPrefix("Bearer ") { return token }
        return url.contains("/services/collector") ? "Splunk \(token)" : "Bearer \(token)"
    }

    public func accepts(_ type: String) -> Bool { filter(type) }

    public func deliver(_ records: [SIEMRecord]) throws(SIEMDeliveryError) {
        var batch = HECBatch(format: format, host: hostname)
        for record in records { batch.append(record.event, id: EventID(seq: record.seq, text: record.eventID)) }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "bastiond")
        if let authorization { request.headers.add(name: "Authorization", value: authorization) }
        request.body = .bytes(ByteBuffer(bytes: batch.body))
        let outcome = Self.blocking { [request, timeout] in
            let response = try await HTTPClient.shared.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 4_096)
            return (response.status, String(buffer: body))
        }
        switch outcome {
        case .failure(let error):
            throw SIEMDeliveryError(.retryable, "POST \(url): \(error)")
        case .success(let (status, body)):
            guard !(200..<300).contains(status.code) else { return }
            let reason = "HTTP \(status.code) from \(url): \(body.prefix(300))"
            let retryable = status.code >= 500 || status.code == 429 || status.code == 408
            throw SIEMDeliveryError(retryable ? .retryable : .rejected, reason)
        }
    }

    /// Runs `work` and waits for it on the calling thread (the relay's own, never the pool).
    /// Shared with ``ChatOpsSink``.
    static func blocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) -> Result<T, any Error> {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.value = .success(try await work()) } catch { box.value = .failure(error) }
            done.signal()
        }
        done.wait()
        return box.value ?? .failure(CancellationError())
    }
}

private final class ResultBox<T: Sendable>: @unchecked Sendable {
    // Written once by the task before the semaphore is signalled, read after the wait.
    var value: Result<T, any Error>?
}
