import BastionCore
import BastionSIEM
import Foundation
import Testing

@Suite("RFC 5424 messages and RFC 6587 framing")
struct SyslogMessageTests {
    private func encoder(_ format: EventFormat = .json, bom: Bool = false, sdID: String = SyslogEventEncoder.defaultStructuredDataID) throws -> SyslogEventEncoder {
        try SyslogEventEncoder(format: format, structuredDataID: sdID, hostname: "bastion01", procID: "4242", byteOrderMark: bom)
    }

    @Test("header: PRI authpriv + severity, version, timestamp, host, app, procid, msgid = type, SD, MSG")
    func header() throws {
        let message = try encoder(.cef).message(for: SIEMTestEvents.sessionStart, id: SIEMTestEvents.id)
        let text = String(decoding: message.bytes(), as: UTF8.self)
        #expect(text.hasPrefix(
            #"<86>1 2026-11-22T23:26:40.125Z bastion01 bastiond 4242 session.start [bastion@32473 id="bastion-bastion01-42" code="B2000I" outcome="success" user="alice" src="192.0.2.10" session="s-1" target="web01"] CEF:0|"#
        ))
    }

    @Test("PRI is facility 10 × 8 + severity from the code's letter", arguments: [
        (AuditEventType.authLogin, 86), (.authFailed, 84), (.recordingFailed, 83), (.hostKeyMismatch, 82),
    ])
    func priority(type: AuditEventType, expected: Int) throws {
        let message = try encoder().message(for: AuditEvent(type: type, time: SIEMTestEvents.time), id: SIEMTestEvents.id)
        #expect(message.priority == expected)
        #expect(message.bytes().starts(with: Array("<\(expected)>1 ".utf8)))
    }

    @Test("SD-PARAM values escape \" \\ and ] (and nothing else)")
    func structuredDataEscaping() {
        #expect(StructuredDataElement.escape(#"a"b\c]d=e ✓"#) == #"a\"b\\c\]d=e ✓"#)
        let element = StructuredDataElement(id: "x@32473", parameters: [.init("cmd", #"rm -rf "/var/lib/x]""#)])
        let message = SyslogMessage(severity: .notice, timestamp: nil, hostname: nil, appName: nil, procID: nil, msgID: nil,
                                    structuredData: [element], message: [])
        #expect(String(decoding: message.bytes(), as: UTF8.self) == #"<85>1 - - - - - [x@32473 cmd="rm -rf \"/var/lib/x\]\""]"#)
    }

    @Test("header fields: printable ASCII only, truncated; MSGID at most 32")
    func headerFields() {
        let message = SyslogMessage(
            severity: .informational, timestamp: nil, hostname: "bad host", appName: "bastiond", procID: "",
            msgID: String(repeating: "m", count: 40) + "✓", message: Array("x".utf8)
        )
        #expect(String(decoding: message.bytes(), as: UTF8.self) == "<86>1 - badhost bastiond - \(String(repeating: "m", count: 32)) - x")
    }

    @Test("the SD-ID must be name@enterprise-number", arguments: [
        ("bastion@32473", true), ("acme@1.2.3", true), ("bastion", false), ("bastion@", false), ("@32473", false),
        ("bas tion@32473", false), ("bastion@32473x", false), ("a=b@1", false), (String(repeating: "b", count: 30) + "@123", false),
    ])
    func structuredDataID(id: String, valid: Bool) throws {
        #expect(StructuredDataElement.isValidPrivateID(id) == valid)
        if valid {
            #expect(try SyslogEventEncoder(format: .json, structuredDataID: id).structuredDataID == id)
        } else {
            let error = #expect(throws: SIEMError.self) { try SyslogEventEncoder(format: .json, structuredDataID: id) }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.detail.contains("structured data id \"\(id)\"") == true, "\(String(describing: error))")
        }
    }

    @Test("a configured SD-ID is used")
    func configuredSDID() throws {
        let text = String(decoding: try encoder(sdID: "acme@99999").message(for: SIEMTestEvents.userLock, id: SIEMTestEvents.id).bytes(), as: UTF8.self)
        #expect(text.contains(#" [acme@99999 id="bastion-bastion01-42" code="B1202W" outcome="success" user="root" target="bob"] {"#))
    }

    @Test("MSG starts with the BOM only when asked")
    func byteOrderMark() throws {
        let plain = try encoder().message(for: SIEMTestEvents.userLock, id: SIEMTestEvents.id).bytes()
        let marked = try encoder(bom: true).message(for: SIEMTestEvents.userLock, id: SIEMTestEvents.id).bytes()
        let json = BastionJSONFormatter().format(SIEMTestEvents.userLock, id: SIEMTestEvents.id)
        #expect(Array(plain.suffix(json.count + 1)) == [UInt8(ascii: " ")] + json)
        #expect(Array(marked.suffix(json.count + 4)) == [UInt8(ascii: " "), 0xEF, 0xBB, 0xBF] + json)
    }

    @Test("octet count is in bytes, not characters")
    func octetCountMultibyte() {
        let message = Array("<86>1 - - - - - - zoë ✓ 日本 🔐".utf8)
        let frame = OctetCounting.frame(message)
        #expect(message.count == 38)  // 28 characters
        #expect(frame == Array("38 ".utf8) + message)
    }

    @Test("frames back to back split back into the same messages; bad framing is refused")
    func framingRoundTrip() throws {
        let encoder = try encoder()
        var stream: [UInt8] = []
        let events = [SIEMTestEvents.hostile, SIEMTestEvents.sessionStart, SIEMTestEvents.authFailed]
        for (index, event) in events.enumerated() {
            OctetCounting.append(encoder.message(for: event, id: EventID(installation: "i", seq: Int64(index))).bytes(), to: &stream)
        }
        let messages = try #require(OctetCounting.split(stream))
        #expect(messages.count == 3)
        #expect(messages[0] == encoder.message(for: events[0], id: EventID(installation: "i", seq: 0)).bytes())
        #expect(OctetCounting.split(Array("05 hello".utf8)) == nil)
        #expect(OctetCounting.split(Array("6 hello".utf8)) == nil)
        #expect(OctetCounting.split(Array("5hello".utf8)) == nil)
    }
}

@Suite("Event filter")
struct EventFilterTests {
    @Test("dotted globs", arguments: [
        (["auth.*", "session.*"], "auth.login", true), (["auth.*", "session.*"], "session.end", true),
        (["auth.*", "session.*"], "user.lock", false), (["auth.*"], "auth", false), (["*"], "target.host_key_mismatch", true),
        (["auth.login"], "auth.login", true), (["auth.login"], "auth.login_x", false), (["*.purge"], "recording.purge", true),
        (["session.?nd"], "session.end", true), ([], "auth.login", false),
    ])
    func matches(patterns: [String], type: String, expected: Bool) throws {
        #expect(try EventFilter(patterns).accepts(typeName: type) == expected)
    }

    @Test("malformed patterns are refused with the pattern named", arguments: ["", "auth.*, session.*", "auth/*", "[a]"])
    func refused(pattern: String) {
        #expect(throws: SIEMError(.invalidConfiguration, "")) { try EventFilter(["auth.*", pattern]) }
    }

    @Test("everything accepts every type")
    func everything() {
        #expect(AuditEventType.all.allSatisfy(EventFilter.everything.accepts))
    }
}

@Suite("Splunk HEC batches")
struct HECBatchTests {
    @Test("envelopes back to back, not an array; time in epoch seconds; event embedded as JSON")
    func jsonBatch() throws {
        var batch = HECBatch(format: .json, host: "bastion01", index: "security")
        batch.append(SIEMTestEvents.sessionStart, id: SIEMTestEvents.id)
        batch.append(SIEMTestEvents.authFailed, id: EventID(installation: "bastion01", seq: 43))
        #expect(batch.count == 2)
        let text = String(decoding: batch.body, as: UTF8.self)
        #expect(text.hasPrefix(#"{"time":1795390000.125,"host":"bastion01","source":"bastiond","sourcetype":"bastion:audit","index":"security","event":{"event":{"#))
        #expect(text.contains(#"},"fields":{"event_id":"bastion-bastion01-42"}}{"time":"#))
        #expect(text.hasSuffix(#""fields":{"event_id":"bastion-bastion01-43"}}"#))
        // Each envelope alone is a JSON object.
        let first = HECBatch(format: .json, host: "h").envelope(SIEMTestEvents.sessionStart, id: SIEMTestEvents.id)
        let parsed = try #require(JSONSerialization.jsonObject(with: Data(first)) as? [String: Any])
        #expect(parsed["time"] as? Double == 1_795_390_000.125)
        #expect(((parsed["event"] as? [String: Any])?["event"] as? [String: Any])?["type"] as? String == "session.start")
    }

    @Test("CEF goes in as a string event, OCSF as an object")
    func otherFormats() throws {
        let cef = HECBatch(format: .cef, host: "h").envelope(SIEMTestEvents.hostile, id: SIEMTestEvents.id)
        let parsedCEF = try #require(JSONSerialization.jsonObject(with: Data(cef)) as? [String: Any])
        #expect(parsedCEF["sourcetype"] as? String == "bastion:cef")
        #expect((parsedCEF["event"] as? String)?.hasPrefix("CEF:0|Bastion|bastiond|") == true)
        let ocsf = HECBatch(format: .ocsf, host: "h").envelope(SIEMTestEvents.sessionStart, id: SIEMTestEvents.id)
        let parsedOCSF = try #require(JSONSerialization.jsonObject(with: Data(ocsf)) as? [String: Any])
        #expect((parsedOCSF["event"] as? [String: Any])?["class_uid"] as? Int == 4007)
    }

    @Test("times before a whole second and before 1970 keep three decimals")
    func times() throws {
        let early = AuditEvent(type: .authLogin, time: Date(timeIntervalSince1970: 5.0625))
        let text = String(decoding: HECBatch(format: .json, host: "h").envelope(early, id: SIEMTestEvents.id), as: UTF8.self)
        #expect(text.hasPrefix(#"{"time":5.062,"#))
        let before = AuditEvent(type: .authLogin, time: Date(timeIntervalSince1970: -1.5))
        #expect(String(decoding: HECBatch(format: .json, host: "h").envelope(before, id: SIEMTestEvents.id), as: UTF8.self).hasPrefix(#"{"time":-1.500,"#))
    }
}
