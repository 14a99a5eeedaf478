public import BastionCore
public import Prometheus

/// Counts every audit event by type and outcome on its way to the log, so that logins,
/// refusals and certificates show up in `/metrics` without metrics code in the domain.
public struct MetricsAuditEmitter: AuditEmitter {
    private let wrapped: any AuditEmitter
    private let registry: PrometheusCollectorRegistry

    public init(wrapping wrapped: any AuditEmitter, registry: PrometheusCollectorRegistry) {
        self.wrapped = wrapped
        self.registry = registry
    }

    static var events: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "bastion", metricName: "audit_events", unitName: "total", helpText: "Audit events appended, by type and outcome."
    ) }
    static var appendFailures: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "bastion", metricName: "audit_append_failures", unitName: "total",
        helpText: "Audit appends that failed (the action they record was refused)."
    ) }

    public func append(_ event: AuditEvent) throws {
        do {
            try wrapped.append(event)
        } catch {
            registry.makeCounter(descriptor: Self.appendFailures).increment()
            throw error
        }
        registry.makeCounter(
            descriptor: Self.events, labels: [("type", event.type.name), ("outcome", event.outcome.rawValue)]
        ).increment()
    }
}
