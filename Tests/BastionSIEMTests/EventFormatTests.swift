import BastionCore
import BastionSIEM
import Foundation
import Testing

@Suite("SIEM formats")
struct EventFormatTests {
    private func object(_ bytes: [UInt8]) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
    }

    // MARK: Bastion JSON

    @Test("json: the chained event bytes verbatim, in an envelope with id and seq")
    func bastionJSONEnvelope() throws {
        let event = SIEMTestEvents.sessionStart
        let bytes = BastionJSONFormatter().format(event, id: SIEMTestEvents.id)
        let canonical = String(decoding: event.canonicalJSON(), as: UTF8.self)
        #expect(String(decoding: bytes, as: UTF8.self) == #"{"event":"# + canonical + #","id":"bastion-bastion01-42","seq":42}"#)
        // The record the chain hashes can be rebuilt from what the SIEM received.
        let record = AuditRecord.envelope(event: event.canonicalJSON(), seq: 42)
        #expect(AuditRecord.eventBytes(in: record).map(Array.init) == event.canonicalJSON())
        let parsed = try object(bytes)
        #expect((parsed["event"] as? [String: Any])?["type"] as? String == "session.start")
    }

    @Test("json: escapes survive a JSON parser")
    func bastionJSONHostile() throws {
        let parsed = try object(BastionJSONFormatter().format(SIEMTestEvents.hostile, id: SIEMTestEvents.id))
        let event = try #require(parsed["event"] as? [String: Any])
        #expect(event["reason"] as? String == SIEMTestEvents.hostile.reason)
        #expect((event["details"] as? [String: String])?["command"] == "rm -rf \"/x]\" ✓ 日本")
    }

    // MARK: CEF

    @Test("cef: header, severity from the code's letter, standard keys")
    func cefSessionStart() {
        let line = String(decoding: CEFFormatter().format(SIEMTestEvents.sessionStart, id: SIEMTestEvents.id), as: UTF8.self)
        #expect(line == "CEF:0|Bastion|bastiond|0.1|B2000I|session.start|3|rt=1795390000125 externalId=bastion-bastion01-42 cat=session"
            + " act=session.start outcome=success suser=alice src=192.0.2.10 spt=50022 dhost=web01 duser=root"
            + " cs1Label=sessionId cs1=s-1 cs2Label=connectionId cs2=c-1 cs3Label=authMethod cs3=publickey+totp"
            + #" cs4Label=keyFingerprint cs4=SHA256:abc cs6Label=details cs6={"command":"","kind":"shell"}"#
            + " flexString1Label=sshUsername flexString1=root@web01 flexString2Label=certificateSerial flexString2=7")
    }

    @Test("cef: severities 3, 6, 8, 10", arguments: [
        (AuditEventType.authLogin, 3), (.authFailed, 6), (.recordingFailed, 8), (.hostKeyMismatch, 10),
    ])
    func cefSeverity(type: AuditEventType, expected: Int) {
        let line = String(decoding: CEFFormatter().format(AuditEvent(type: type, time: SIEMTestEvents.time), id: SIEMTestEvents.id), as: UTF8.self)
        #expect(line.split(separator: "|", omittingEmptySubsequences: false)[6] == Substring(String(expected)))
    }

    @Test("cef: an IPv6 source stays src; a user administered is duser; a host name goes to shost")
    func cefAddressesAndTargets() {
        let failed = String(decoding: CEFFormatter().format(SIEMTestEvents.authFailed, id: SIEMTestEvents.id), as: UTF8.self)
        #expect(failed.contains(" src=2001:db8::1 spt=4242"))
        #expect(failed.contains(" reason=wrong code "))
        #expect(failed.contains("|6|"))
        let lock = String(decoding: CEFFormatter().format(SIEMTestEvents.userLock, id: SIEMTestEvents.id), as: UTF8.self)
        #expect(lock.contains(" suser=root duser=bob "))
        #expect(!lock.contains("dhost="))
        var named = SIEMTestEvents.authFailed
        named.connection?.remoteAddress = "client.example"
        #expect(String(decoding: CEFFormatter().format(named, id: SIEMTestEvents.id), as: UTF8.self).contains(" shost=client.example spt=4242"))
    }

    @Test("cef: header escapes | and \\, extension escapes \\ and = and line breaks")
    func cefEscaping() {
        #expect(CEFFormatter.escapeHeader(#"a|b\c"#) == #"a\|b\\c"#)
        #expect(CEFFormatter.escapeHeader("a\nb") == "a b")
        #expect(CEFFormatter.escapeExtensionValue(#"a=b\c|d"#) == #"a\=b\\c|d"#)
        #expect(CEFFormatter.escapeExtensionValue("one\ntwo\r") == #"one\ntwo\r"#)
        let product = ProductIdentity(vendor: "Acme|Corp", name: #"bast\ion"#, version: "1|2")
        let line = String(decoding: CEFFormatter(product: product).format(SIEMTestEvents.hostile, id: SIEMTestEvents.id), as: UTF8.self)
        #expect(line.hasPrefix(#"CEF:0|Acme\|Corp|bast\\ion|1\|2|B1301W|command.denied|6|"#))
        #expect(line.contains(#" reason=a|b\=c\\d"e]f\nline two "#))
        #expect(!line.contains("\n"))
        // The details JSON inside cs6 is escaped too: its = and \ would otherwise end the value.
        #expect(line.contains(#"cs6={"command":"rm -rf \\"/x]\\" ✓ 日本"}"#))
    }

    // MARK: OCSF

    @Test("ocsf: auth.* is Authentication 3002, with user, service, src_endpoint and status")
    func ocsfAuthentication() throws {
        let parsed = try object(OCSFFormatter().format(SIEMTestEvents.authFailed, id: SIEMTestEvents.id))
        #expect(parsed["class_uid"] as? Int == 3002)
        #expect(parsed["category_uid"] as? Int == 3)
        #expect(parsed["activity_id"] as? Int == 1)
        #expect(parsed["type_uid"] as? Int == 300201)
        #expect(parsed["time"] as? Int64 == 1_795_390_000_125)
        #expect(parsed["status_id"] as? Int == 2)
        #expect(parsed["status_detail"] as? String == "wrong code")
        #expect(parsed["severity_id"] as? Int == 3)
        #expect((parsed["user"] as? [String: Any])?["name"] as? String == "mallory")
        #expect((parsed["service"] as? [String: Any])?["name"] as? String == "bastiond")
        let source = try #require(parsed["src_endpoint"] as? [String: Any])
        #expect(source["ip"] as? String == "2001:db8::1")
        #expect(source["port"] as? Int == 4242)
        #expect(parsed["is_mfa"] as? Bool == false)
        let metadata = try #require(parsed["metadata"] as? [String: Any])
        #expect(metadata["uid"] as? String == "bastion-bastion01-42")
        #expect(metadata["version"] as? String == "1.1.0")
        #expect(metadata["event_code"] as? String == "B1001W")
        #expect((metadata["product"] as? [String: Any])?["name"] as? String == "bastiond")
    }

    @Test("ocsf: session.start is SSH Activity 4007 Open, target as dst_endpoint, session in actor")
    func ocsfSSHActivity() throws {
        let parsed = try object(OCSFFormatter().format(SIEMTestEvents.sessionStart, id: SIEMTestEvents.id))
        #expect(parsed["class_uid"] as? Int == 4007)
        #expect(parsed["type_uid"] as? Int == 400701)
        #expect((parsed["dst_endpoint"] as? [String: Any])?["hostname"] as? String == "web01")
        let actor = try #require(parsed["actor"] as? [String: Any])
        #expect((actor["user"] as? [String: Any])?["name"] as? String == "alice")
        #expect((actor["session"] as? [String: Any])?["uid"] as? String == "s-1")
        let unmapped = try #require(parsed["unmapped"] as? [String: Any])
        #expect(unmapped["login"] as? String == "root")
        #expect(unmapped["connection_id"] as? String == "c-1")
        #expect((unmapped["details"] as? [String: String])?["kind"] == "shell")
    }

    @Test("ocsf: the classification table", arguments: [
        (AuditEventType.authLogin, 3002, 1), (.authFailed, 3002, 1), (.authKeyAccepted, 3002, 1), (.authLockout, 3002, 99),
        (.sessionStart, 4007, 1), (.sessionEnd, 4007, 2), (.hostKeyMismatch, 4007, 4), (.sessionDenied, 4007, 5),
        (.sessionKill, 0, 99), (.sessionList, 0, 99), (.userAdd, 0, 99), (.certIssue, 0, 99), (.auditPurge, 0, 99),
    ])
    func ocsfClassification(type: AuditEventType, classUID: Int, activityID: Int) {
        let classification = OCSFFormatter.classify(type)
        #expect(classification.classUID == classUID)
        #expect(classification.activityID == activityID)
        #expect(classification.typeUID == classUID * 100 + activityID)
        if classUID == 0 { #expect(classification.activityName == type.name) }
    }

    @Test("every format, every event type: JSON formats parse, CEF is one line")
    func everyTypeFormats() throws {
        for type in AuditEventType.all {
            var event = SIEMTestEvents.hostile
            event.type = type
            for format in EventFormat.allCases {
                let bytes = format.formatter().format(event, id: SIEMTestEvents.id)
                if format.isJSON {
                    _ = try object(bytes)
                } else {
                    #expect(!bytes.contains(UInt8(ascii: "\n")), "\(type) \(format)")
                }
            }
        }
    }
}
