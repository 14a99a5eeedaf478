import BastionApp
import BastionCore
import BastionStore
import BastionTesting
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Audit records on their way to a real rsyslog through bastiond's outbox: formats, an
/// outage, and a bastiond killed with -9 while records wait.
@Suite("SIEM delivery")
struct SIEMDeliveryTests {
    /// Starts or restarts rsyslogd off the cooperative pool (it waits for the listener).
    static func restart(_ rsyslog: RsyslogFixture) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread { continuation.resume(with: Result { try rsyslog.start() }) }.start()
        }
    }

    /// The event ids rsyslog has received, with how often each arrived.
    static func receivedIDs(_ rsyslog: RsyslogFixture) -> [String: Int] {
        var ids: [String: Int] = [:]
        for line in rsyslog.received() {
            if let id = line.firstMatch(of: /\[bastion@32473 id="([^"]+)"/).map({ String($0.1) }) { ids[id, default: 0] += 1 }
        }
        return ids
    }

    static func sinkConfig(port: Int, archive: String) -> String {
        """
        [siem]
        installation = "test"
        [[siem.sinks]]
        name = "soc"
        kind = "syslog"
        address = "127.0.0.1:\(port)"
        format = "json"
        [[siem.sinks]]
        name = "archive"
        kind = "file"
        path = "\(archive)"
        format = "cef"
        events = ["audit.*", "user.*"]
        """
    }

    @Test("records reach rsyslog as RFC 5424 with the JSON format, multi-byte text intact; an outage loses none")
    func deliveryAndOutage() async throws {
        let rsyslog = try await RsyslogFixture.start()
        defer { rsyslog.stop() }
        let archiveDirectory = try TemporaryDirectory()
        let archive = archiveDirectory.file("events.cef")
        try await withBastion(extraConfig: Self.sinkConfig(port: rsyslog.plainPort, archive: archive)) { bastion in
            let log = bastion.environment.auditLog
            try log.append(AuditEvent(type: .holdAdd, time: Date(), actor: .init(user: "auditor"), reason: "naïve ✓ 日本語 — case 7"))
            let firstSeq = try #require(try log.bounds()?.upperBound)
            let arrived = try await relayPoll(timeout: 15, interval: .milliseconds(100)) {
                rsyslog.received().contains { $0.contains("bastion-test-\(firstSeq)") }
            }
            #expect(arrived, "rsyslog log: \(rsyslog.log)")
            let line = try #require(rsyslog.received().first { $0.contains("bastion-test-\(firstSeq)") })
            #expect(line.hasPrefix("<84>1 "), "authpriv.warning for a W code: \(line)")
            #expect(line.contains(" bastiond "))
            let json = try #require(line.firstIndex(of: "{").map { String(line[$0...]) })
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            #expect(object["id"] as? String == "bastion-test-\(firstSeq)")
            #expect((object["event"] as? [String: Any])?["reason"] as? String == "naïve ✓ 日本語 — case 7", "octet count in bytes: \(line)")

            // The receiver goes away; records keep being appended; nothing blocks.
            rsyslog.stop()
            for index in 0..<30 {
                try log.append(AuditEvent(type: .userLock, time: Date(), actor: .init(user: "admin"), target: "user\(index)"))
            }
            let lastSeq = try #require(try log.bounds()?.upperBound)
            // The relay tries the missing receiver (and backs off) while the records wait.
            _ = try await relayPoll(timeout: 10) { try bastion.environment.siemOutbox.state(of: "soc")?.attempts ?? 0 > 0 }
            let waiting = try #require(try bastion.environment.siemOutbox.state(of: "soc"))
            #expect(waiting.depth >= 30, "\(waiting)")
            #expect(waiting.attempts > 0)
            try await Self.restart(rsyslog)
            let complete = try await relayPoll(timeout: 30, interval: .milliseconds(200)) {
                let ids = Self.receivedIDs(rsyslog)
                return (firstSeq...lastSeq).allSatisfy { ids["bastion-test-\($0)"] != nil }
            }
            let ids = Self.receivedIDs(rsyslog)
            #expect(complete, "missing: \((firstSeq...lastSeq).filter { ids["bastion-test-\($0)"] == nil })")
            let duplicates = ids.values.filter { $0 > 1 }.count
            #expect(duplicates <= 30, "duplicates are allowed (at least once), counted: \(duplicates)")

            // The file sink got the CEF lines of the types it asked for.
            let cef = try String(contentsOfFile: archive, encoding: .utf8).split(separator: "\n")
            #expect(cef.contains { $0.hasPrefix("CEF:0|Bastion|bastiond|") && $0.contains("externalId=bastion-test-\(firstSeq)") }, "\(cef.prefix(3))")
            #expect(cef.filter { $0.contains("|user.lock|") }.count == 30)
        }
    }

    @Test("over TLS with a client certificate (RFC 5425); a receiver signed by another CA gets nothing and the error says why")
    func tls() async throws {
        let rsyslog = try await RsyslogFixture.start()
        defer { rsyslog.stop() }
        let certificates = rsyslog.certificates
        let config = { (ca: String) in
            """
            [siem]
            installation = "test"
            [[siem.sinks]]
            name = "soc"
            kind = "syslog"
            address = "127.0.0.1:\(rsyslog.mutualTLSPort)"
            tls = true
            ca_file = "\(ca)"
            cert_file = "\(certificates.clientCertificateFile)"
            key_file = "\(certificates.clientKeyFile)"
            format = "ocsf"
            """
        }
        try await withBastion(extraConfig: config(certificates.caFile)) { bastion in
            try bastion.environment.auditLog.append(AuditEvent(type: .authLogin, time: Date(), actor: .init(user: "alice")))
            let seq = try #require(try bastion.environment.auditLog.bounds()?.upperBound)
            let arrived = try await relayPoll(timeout: 15, interval: .milliseconds(100)) { Self.receivedIDs(rsyslog)["bastion-test-\(seq)"] != nil }
            #expect(arrived, "\(rsyslog.log)")
            let line = try #require(rsyslog.received().first { $0.contains("bastion-test-\(seq)") })
            #expect(line.contains(#""class_uid":3002"#), "OCSF Authentication: \(line)")
        }
        try await withBastion(extraConfig: config(certificates.otherCAFile)) { bastion in
            try bastion.environment.auditLog.append(AuditEvent(type: .authLogin, time: Date(), actor: .init(user: "bob")))
            let failed = try await relayPoll(timeout: 15, interval: .milliseconds(100)) {
                (try bastion.environment.siemOutbox.state(of: "soc")?.lastError ?? "").contains("certificate verify failed")
            }
            let state = try bastion.environment.siemOutbox.state(of: "soc")
            #expect(failed, "\(String(describing: state))")
        }
    }

    @Test("bastiond killed with -9 while records wait for a down receiver delivers them after restart")
    func killedWithBacklog() async throws {
        let rsyslog = try await RsyslogFixture.start()
        defer { rsyslog.stop() }
        let directory = try TemporaryDirectory(prefix: "bastion-siem-crash")
        let config = directory.file("bastiond.toml")
        try BastionHarness.configText(in: directory, extra: Self.sinkConfig(port: rsyslog.plainPort, archive: directory.file("a.cef")))
            .write(toFile: config, atomically: true, encoding: .utf8)
        rsyslog.stop()
        let first = try await RelayDaemonProcess(config: config, logPath: directory.file("serve-1.log"))
        defer { first.killNow() }
        for _ in 0..<5 { #expect(try await RelayDaemonProcess.run(["audit", "search", "--type", "none", "--config", config]).status == 0) }
        let status = try await RelayDaemonProcess.run(["siem", "status", "--config", config])
        #expect(status.stdout.contains("soc"), "\(status)")
        #expect(status.stdout.contains("retrying") || status.stdout.contains("sending"), "\(status)")
        #expect(try await first.signal(SIGKILL))

        let searches = try await RelayDaemonProcess.run(["audit", "search", "--type", "audit.search", "--config", config])
        let seqs = searches.stdout.split(separator: "\n").dropFirst().compactMap { Int64($0.split(separator: " ").first ?? "") }
        #expect(seqs.count >= 5, "\(searches)")
        try await Self.restart(rsyslog)
        let second = try await RelayDaemonProcess(config: config, logPath: directory.file("serve-2.log"))
        defer { second.killNow() }
        let complete = try await relayPoll(timeout: 30, interval: .milliseconds(200)) {
            let ids = Self.receivedIDs(rsyslog)
            return seqs.allSatisfy { ids["bastion-test-\($0)"] != nil }
        }
        #expect(complete, "received: \(Self.receivedIDs(rsyslog).keys.sorted()); log: \(second.log)")
        #expect(try await second.signal(SIGTERM))
    }
}

/// Live session streaming: a relayed session's recording reaches rsyslog as `session.data`
/// pieces between `session.start` and `session.end`, and reassembles byte for byte.
@Suite("SIEM live session streaming")
struct SIEMStreamingTests {
    @Test("streamed pieces reassemble into the recording on disk, bracketed by session.start and session.end")
    func reassembles() async throws {
        let rsyslog = try await RsyslogFixture.start()
        defer { rsyslog.stop() }
        let config = """
            [siem]
            installation = "test"
            [[siem.sinks]]
            name = "soc"
            kind = "syslog"
            address = "127.0.0.1:\(rsyslog.plainPort)"
            events = ["session.*"]
            stream_sessions = true
            """
        try await withRelay(extraConfig: config) { bastion, _ in
            let alice = try await RelayTests.operatorWithCertificate(bastion)
            let ssh = try ProcessRunner.locate("ssh")
            let command = "for i in $(seq 1 3000); do echo \"line $i ünïcødé ✓ \\\"quoted\\\"\"; done"
            let arguments = alice.clientOptions(useCertificate: true) + ["-p", String(bastion.endpoints.sshPort), "root@web01@127.0.0.1", command]
            let result = try await ProcessRunner.run(ssh, arguments, timeout: 30)
            #expect(result.status == 0, "\(result)")
            let ended = try await relayPoll(timeout: 10, interval: .milliseconds(100)) { try await !bastion.auditDetails("session.end").isEmpty }
            try #require(ended)
            let end = try #require(try await bastion.auditDetails("session.end").first)
            let session = try #require(end["session_id"])
            let path = try #require(end["recording"])

            // Everything of this session, as rsyslog received it, in arrival order.
            var events: [(type: String, details: [String: String])] = []
            // Generous: on a loaded machine a refused first connect puts the relay in backoff.
            let complete = try await relayPoll(timeout: 60, interval: .milliseconds(200)) {
                events = rsyslog.received().compactMap { line -> (String, [String: String])? in
                    guard let start = line.firstIndex(of: "{"),
                        let object = try? JSONSerialization.jsonObject(with: Data(line[start...].utf8)) as? [String: Any],
                        let event = object["event"] as? [String: Any], let type = event["type"] as? String,
                        (event["session"] as? [String: Any])?["id"] as? String == session
                    else { return nil }
                    return (type, event["details"] as? [String: String] ?? [:])
                }
                return events.last?.type == "session.end"
            }
            let state = try bastion.environment.siemOutbox.state(of: "soc")
            #expect(complete, "\(events.map(\.type)); outbox: \(String(describing: state)); rsyslog: \(rsyslog.log)")
            #expect(events.first?.type == "session.start", "\(events.map(\.type).prefix(3))")
            let pieces = events.filter { $0.type == "session.data" }
            #expect(pieces.count > 1, "a 3000-line session spans several pieces")
            let ordered = pieces.sorted { Int($0.details["chunk"] ?? "") ?? 0 < Int($1.details["chunk"] ?? "") ?? 0 }
            #expect(ordered.map { Int($0.details["chunk"] ?? "") ?? 0 } == Array(1...ordered.count), "numbered without gaps")
            let reassembled = Data(ordered.map { $0.details["data"] ?? "" }.joined().utf8)
            let onDisk = Data(try RelayRecording.plaintext(path))
            #expect(reassembled == onDisk, "\(reassembled.count) bytes streamed, \(onDisk.count) on disk")
        }
    }
}
