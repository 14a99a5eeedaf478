public import BastionCore
public import Foundation
public import Logging
public import Prometheus
public import ServiceLifecycle
import Synchronization

/// Runs one ``SinkRelay`` per configured sink, each on a thread of its own (a sink may block
/// on a slow receiver; nothing else waits for it), and watches every sink's backlog:
/// metrics each tick, an alert (log and `siem.backlog` audit record) when a backlog crosses
/// `siem.alert_depth` or `siem.alert_age`, and `siem.recovered` when it is back.
public struct SIEMService: Service {
    private let relays: [SinkRelay]
    /// Where the relays run; a reload starts and stops them there.
    private let pool: RelayPool
    private let outbox: any OutboxStore
    private let audit: any AuditEmitter
    private let alertDepth: Int
    private let alertAge: TimeInterval
    private let registry: PrometheusCollectorRegistry
    private let clock: any WallClock
    private let logger: Logger
    private let checkInterval: TimeInterval

    /// - Parameters:
    ///   - alertDepth: `siem.alert_depth`, records waiting before the alert.
    ///   - alertAge: `siem.alert_age`, the oldest record's age before the alert.
    public init(
        relays: [SinkRelay], pool: RelayPool, outbox: any OutboxStore, audit: any AuditEmitter, alertDepth: Int, alertAge: TimeInterval,
        registry: PrometheusCollectorRegistry, clock: any WallClock, logger: Logger, checkInterval: TimeInterval = 10
    ) {
        self.relays = relays
        self.pool = pool
        self.outbox = outbox
        self.audit = audit
        self.alertDepth = alertDepth
        self.alertAge = alertAge
        self.registry = registry
        self.clock = clock
        self.logger = logger
        self.checkInterval = checkInterval
    }

    public func run() async throws {
        relays.forEach(pool.start)
        var alarms: [String: BacklogAlarm] = [:]
        while true {
            check(&alarms)
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(checkInterval)) }
            } catch {
                break
            }
        }
        // Each relay notices within a tenth of a second, or when its current send returns;
        // a send stuck on a slow receiver does not hold the stop up for long (the cursor
        // only moves after a send, so nothing is lost).
        let pool = pool
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread {
                pool.stopAll(timeout: 3)
                done.resume()
            }.start()
        }
    }

    /// Counts a relay step in the metrics (and warns of a retry): the pool's `onStep`.
    public static func stepCounter(registry: PrometheusCollectorRegistry, logger: Logger) -> @Sendable (SinkRelay.Step, String) -> Void {
        { step, sink in count(step, sink: sink, registry: registry, logger: logger) }
    }

    /// Metrics and alerts for every sink's backlog.
    private func check(_ alarms: inout [String: BacklogAlarm]) {
        let now = clock.now()
        for relay in pool.relays {
            let sink = relay.sink.name
            guard let state = try? outbox.state(of: sink) else { continue }
            let age = state.oldestPending.map { now.timeIntervalSince($0) } ?? 0
            registry.makeGauge(descriptor: Self.depth, labels: [("sink", sink)]).set(Double(state.depth))
            registry.makeGauge(descriptor: Self.age, labels: [("sink", sink)]).set(age)
            registry.makeGauge(descriptor: Self.failed, labels: [("sink", sink)]).set(Double(state.deadLetters))
            if alarms[sink] == nil { alarms[sink] = BacklogAlarm(maximumDepth: Int64(alertDepth), maximumAge: alertAge) }
            switch alarms[sink]?.observe(depth: state.depth, oldestPending: state.oldestPending, now: now) {
            case .raised(let reason):
                logger.error("SIEM sink \(sink) is falling behind: \(reason)")
                try? audit.append(AuditEvent(
                    type: .siemBacklog, time: now, outcome: .failure, actor: .init(user: nil, method: "daemon"), reason: reason,
                    details: ["sink": sink, "depth": String(state.depth), "last_error": state.lastError ?? ""]
                ))
            case .cleared:
                logger.notice("SIEM sink \(sink) caught up")
                try? audit.append(AuditEvent(type: .siemRecovered, time: now, actor: .init(user: nil, method: "daemon"), details: ["sink": sink]))
            case nil:
                break
            }
        }
    }

    private static func count(_ step: SinkRelay.Step, sink: String, registry: PrometheusCollectorRegistry, logger: Logger) {
        switch step {
        case .idle, .standby:
            break
        case .delivered(let count, _):
            registry.makeCounter(descriptor: delivered, labels: [("sink", sink)]).increment(by: Int64(count))
        case .retryLater(let delay, let reason):
            registry.makeCounter(descriptor: retried, labels: [("sink", sink)]).increment()
            logger.warning("SIEM sink \(sink) unavailable, retrying in \(String(format: "%.1f", delay)) s: \(reason)")
        }
    }

    static var depth: MetricNameDescriptor { .init(namespace: "bastion", subsystem: "siem", metricName: "outbox_depth", unitName: "records", helpText: "Audit records not yet delivered to the sink.") }
    static var age: MetricNameDescriptor { .init(namespace: "bastion", subsystem: "siem", metricName: "outbox_age", unitName: "seconds", helpText: "Age of the oldest record not yet delivered to the sink.") }
    static var delivered: MetricNameDescriptor { .init(namespace: "bastion", subsystem: "siem", metricName: "delivered", unitName: "total", helpText: "Records delivered to the sink.") }
    static var failed: MetricNameDescriptor { .init(namespace: "bastion", subsystem: "siem", metricName: "dead_letters", unitName: "records", helpText: "Records the receiver refused (4xx), kept in the dead-letter table.") }
    static var retried: MetricNameDescriptor { .init(namespace: "bastion", subsystem: "siem", metricName: "retries", unitName: "total", helpText: "Failed delivery attempts, retried with backoff.") }
}
