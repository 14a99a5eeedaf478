import BastionSSH
import Prometheus
import Synchronization

/// The front door's figures on `/metrics`: open connections, handshakes running and waiting,
/// penalised sources, and connections dropped by reason (`full`, `per-source limit`,
/// `penalised`, `pushed out`, `grace time`). Read from the server when `/metrics` is asked.
final class SSHMetrics: Sendable {
    private let server: SSHServer
    private let registry: PrometheusCollectorRegistry
    private let reported = Mutex<[String: Int]>([:])

    init(server: SSHServer, registry: PrometheusCollectorRegistry) {
        self.server = server
        self.registry = registry
    }

    func refresh() {
        let stats = server.admissionStats
        gauge("connections", unit: "open", "Open SSH front-door connections.").set(Double(server.openConnections))
        gauge("handshakes_running", unit: nil, "Unauthenticated connections running their handshake, each on a thread.").set(Double(stats.running))
        gauge("handshakes_waiting", unit: nil, "Unauthenticated connections waiting for a handshake slot, without a thread.").set(Double(stats.waiting))
        gauge("penalised_sources", unit: nil, "Source addresses refused for their penalties now.").set(Double(stats.penalised))
        let dropped = MetricNameDescriptor(
            namespace: "bastion", subsystem: "ssh", metricName: "dropped_connections", unitName: "total", helpText: "Connections dropped before authentication, by reason."
        )
        reported.withLock { reported in
            for (reason, total) in stats.dropped where total > reported[reason, default: 0] {
                registry.makeCounter(descriptor: dropped, labels: [("reason", reason)]).increment(by: Int64(total - reported[reason, default: 0]))
                reported[reason] = total
            }
        }
    }

    private func gauge(_ name: String, unit: String?, _ help: String) -> Gauge {
        registry.makeGauge(descriptor: MetricNameDescriptor(namespace: "bastion", subsystem: "ssh", metricName: name, unitName: unit ?? "", helpText: help))
    }
}
