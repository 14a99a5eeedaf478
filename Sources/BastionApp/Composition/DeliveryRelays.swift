import BastionCore
import BastionDelivery

/// The outbox relays for SIEM sinks and chat-ops webhooks, built the same way at start and
/// on a reload. The installation name, Slack's button setting and the retry cap are the
/// start's: a reload changes sinks and webhooks, not the rest of their sections.
enum DeliveryRelays {
    static func make(
        sinks: [SIEMConfiguration.Sink], webhooks: [ChatOpsConfiguration.Webhook], environment: BastionEnvironment
    ) throws -> [SinkRelay] {
        let (configuration, clock, outbox) = (environment.configuration, environment.clock, environment.siemOutbox)
        var relays: [SinkRelay] = []
        for sink in sinks {
            relays.append(SinkRelay(
                sink: try SIEMSinkFactory.make(sink), outbox: outbox, installation: configuration.siem.installation, clock: clock,
                streamSessions: sink.streamSessions, recordingKeys: environment.recordingKeys
            ))
            // A sink seen for the first time starts at the head of the chain.
            _ = try outbox.cursor(of: sink.name, now: clock.now())
        }
        var chat = configuration.chatops
        chat.webhooks = webhooks
        return relays + (try ChatOpsRelays.make(
            chat, links: environment.elevation(audit: environment.auditLog).links, outbox: outbox,
            installation: configuration.siem.installation, clock: clock
        ))
    }

    /// What a reload does to the running relays: built now (a sink that cannot be built
    /// refuses the whole reload), started and stopped by `apply` once the reload is audited.
    static func prepare(
        _ next: BastionConfiguration, plan: ReloadPlan, environment: BastionEnvironment, pool: RelayPool
    ) throws -> @Sendable () -> Void {
        let sinks = Set(plan.sinks.added + plan.sinks.modified)
        let webhooks = Set(plan.webhooks.added + plan.webhooks.modified)
        let starting = try make(
            sinks: next.siem.sinks.filter { sinks.contains($0.name) }, webhooks: next.chatops.webhooks.filter { webhooks.contains($0.name) },
            environment: environment
        )
        let stopping = plan.sinks.removed + plan.webhooks.removed.map { ChatOpsConfiguration.Webhook.cursorName(of: $0) }
        return {
            pool.stop(names: stopping)
            starting.forEach(pool.start)  // a modified one's predecessor is stopped first
        }
    }
}
