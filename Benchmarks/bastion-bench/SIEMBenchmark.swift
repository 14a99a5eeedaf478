import BastionApp
import BastionCore
import BastionCrypto
import BastionDelivery
import BastionSIEM
import BastionStore
import BastionTesting
import Foundation

/// SIEM delivery to a real rsyslog on loopback over TCP: the backlog a 10-minute outage
/// leaves (at a sustained 200 events/s: 120,000 records) is appended while the receiver is
/// down; then the receiver comes back and the relay drains it. Events/s delivered is the
/// drain rate, measured until rsyslog has written the last one. Goal (issue 5): ≥ 20,000/s.
enum SIEMBenchmark {
    struct Result {
        var records: Int
        var drainSeconds: Double
        var receivedSeconds: Double
        var received: Int
        /// Distinct event ids among what arrived (at least once: redeliveries are allowed).
        var distinct: Int
        var perSecond: Double { Double(records) / receivedSeconds }
    }

    static func run(records: Int, scratch: ScratchDirectory) throws -> Result {
        let rsyslog = try RsyslogFixture()
        defer { rsyslog.stop() }
        let handle = try DatabasePoolHandle(path: scratch.file("siem-bench.sqlite"), sealing: .init(key: try Ed25519PrivateKey()))
        let outbox = handle.siemOutbox
        let sink = SyslogSink(
            name: "soc", sender: SyslogSender(endpoint: SyslogEndpoint(host: "127.0.0.1", port: rsyslog.plainPort)),
            encoder: try SyslogEventEncoder(format: .json), accepts: { _ in true }
        )
        let relay = SinkRelay(sink: sink, outbox: outbox, installation: "bench")
        _ = try outbox.cursor(of: "soc", now: Date())

        // The outage: the receiver is down while the backlog builds.
        rsyslog.stop()
        let writers = 16
        let group = DispatchGroup()
        for writer in 0..<writers {
            group.enter()
            Thread {
                defer { group.leave() }
                for index in 0..<(records / writers) { try? handle.auditLog.append(AuditBenchmark.event(index, writer: writer)) }
            }.start()
        }
        group.wait()
        let total = records / writers * writers
        try rsyslog.start()

        let start = Date()
        while true {
            if case .idle = try relay.step() { break }
        }
        let drained = Date().timeIntervalSince(start)
        var received = 0
        let deadline = Date().addingTimeInterval(120)
        while received < total, Date() < deadline {
            received = rsyslog.receivedCount()
            if received < total { Thread.sleep(forTimeInterval: 0.05) }
        }
        let receivedSeconds = Date().timeIntervalSince(start)
        var ids = Set<Substring>()
        for line in rsyslog.received() {
            if let range = line.range(of: "[bastion@32473 id=\""), let end = line[range.upperBound...].firstIndex(of: "\"") {
                ids.insert(line[range.upperBound..<end])
            }
        }
        return Result(records: total, drainSeconds: drained, receivedSeconds: receivedSeconds, received: received, distinct: ids.count)
    }

    static func render(_ result: Result) -> String {
        let goal = result.perSecond >= 20_000 ? "met" : "MISSED"
        return """
            SIEM delivery to rsyslog (TCP, RFC 5424 + octet counting, json format, batches of 500)
              backlog of a 10-min outage at 200/s   \(result.records) records
              drained by the relay                  \(String(format: "%.2f", result.drainSeconds)) s
              all written by rsyslog after          \(String(format: "%.2f", result.receivedSeconds)) s   (\(result.received) received, \(result.distinct) distinct ids: records and their checkpoints)
              events/s delivered                    \(String(format: "%.0f", result.perSecond))   goal >= 20000: \(goal)
            """
    }
}
