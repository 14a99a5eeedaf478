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
/// drain rate, measured until rsyslog has written the last of those records (the checkpoints
/// sealing them come on top and do not count). Goal (issue 5): ≥ 20,000/s.
enum SIEMBenchmark {
    struct Result {
        var records: Int
        var drainSeconds: Double
        var receivedSeconds: Double
        /// Messages rsyslog wrote: the records (at least once: redeliveries are allowed) and checkpoints.
        var received: Int
        /// Distinct event ids among the appended records that arrived: all of them.
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
        let failures = AuditBenchmark.Failures()
        let group = DispatchGroup()
        for writer in 0..<writers {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    for index in 0..<(records / writers) { try handle.auditLog.append(AuditBenchmark.event(index, writer: writer)) }
                } catch {
                    failures.record(error)
                }
            }.start()
        }
        group.wait()
        if let error = failures.first { throw BenchError("siem: appending the backlog failed: \(error)") }
        let total = records / writers * writers
        try rsyslog.start()

        let arrivals = Arrivals(path: rsyslog.receivedPath, type: AuditBenchmark.event(0, writer: 0).type.name)
        let start = Date()
        drain: while true {
            switch try relay.step() {
            case .idle: break drain
            case .delivered: continue
            // Retries would time the backoff, not the drain.
            case .retryLater(_, let reason): throw BenchError("siem: delivery to rsyslog failed during the drain: \(reason)")
            case .standby: throw BenchError("siem: the relay did not get its sink's lease")
            }
        }
        let drained = Date().timeIntervalSince(start)
        let deadline = Date().addingTimeInterval(120)
        while arrivals.read() < total {
            guard Date() < deadline else {
                throw BenchError("siem: rsyslog wrote \(arrivals.ids.count) of the \(total) appended records within 120 s (\(arrivals.messages) messages in all)")
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        let receivedSeconds = arrivals.readAt.timeIntervalSince(start)
        return Result(
            records: total, drainSeconds: drained, receivedSeconds: receivedSeconds, received: arrivals.messages, distinct: arrivals.ids.count
        )
    }

    /// rsyslog's output file read as it grows: every message counted, and the distinct ids of
    /// those whose MSGID is the appended records' type (checkpoints have their own).
    final class Arrivals {
        private let path: String
        private let type: String
        private var handle: FileHandle?
        private var partial: [UInt8] = []
        private(set) var messages = 0
        private(set) var ids = Set<String>()
        /// When the last read reached the end of the file: what it parsed had arrived by then.
        private(set) var readAt = Date()

        init(path: String, type: String) {
            self.path = path
            self.type = type
        }

        deinit {
            try? handle?.close()
        }

        /// Reads what was written since the last call; returns the distinct record ids so far.
        func read() -> Int {
            if handle == nil { handle = FileHandle(forReadingAtPath: path) }
            guard let handle, let data = try? handle.readToEnd() else { return ids.count }
            readAt = Date()
            partial += data
            guard let lastNewline = partial.lastIndex(of: UInt8(ascii: "\n")) else { return ids.count }
            for line in partial[..<lastNewline].split(separator: UInt8(ascii: "\n")) {
                messages += 1
                if let id = recordID(String(decoding: line, as: UTF8.self)) { ids.insert(id) }
            }
            partial.removeSubrange(...lastNewline)
            return ids.count
        }

        /// `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [bastion@32473 id="…" …`: the id if MSGID is `type`.
        private func recordID(_ line: String) -> String? {
            let fields = line.split(separator: " ", maxSplits: 6)
            guard fields.count == 7, fields[5] == type, fields[6].hasPrefix("[bastion@32473 id=\"") else { return nil }
            return fields[6].dropFirst("[bastion@32473 id=\"".count).prefix { $0 != "\"" }.description
        }
    }

    static func render(_ result: Result) -> String {
        let goal = result.perSecond >= 20_000 ? "met" : "MISSED"
        return """
            SIEM delivery to rsyslog (TCP, RFC 5424 + octet counting, json format, batches of 500)
              backlog of a 10-min outage at 200/s   \(result.records) records
              drained by the relay                  \(String(format: "%.2f", result.drainSeconds)) s
              all records written by rsyslog after  \(String(format: "%.2f", result.receivedSeconds)) s   (\(result.distinct) distinct record ids; \(result.received) messages with checkpoints and redeliveries)
              events/s delivered                    \(String(format: "%.0f", result.perSecond))   goal >= 20000: \(goal)
            """
    }
}
