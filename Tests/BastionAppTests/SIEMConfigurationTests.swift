import BastionApp
import BastionCore
import Testing

/// `[siem]` and `[[siem.sinks]]`: the published keys parse; every mistake names the sink's
/// key path (`siem.sinks[1].kind`) and its line.
@Suite("SIEM configuration")
struct SIEMConfigurationTests {
    static let published = """
        [siem]
        installation = "bastion-eu1"
        [[siem.sinks]]
        name = "soc"
        kind = "syslog"                      # syslog | http | file
        address = "siem.example:6514"
        tls = true
        ca_file = "/etc/bastion/siem-ca.pem"
        format = "json"                      # json | cef | ocsf
        events = ["*"]
        stream_sessions = true
        [[siem.sinks]]
        name = "splunk"
        kind = "http"
        url = "https://splunk.example:8088/services/collector/event"
        token = "abc"
        [[siem.sinks]]
        name = "archive"
        kind = "file"
        path = "/var/log/bastion/events.jsonl"
        events = ["auth.*", "session.*"]
        """

    @Test("the keys published in the issue parse, in order, with defaults")
    func published() throws {
        let siem = try BastionConfiguration.parse(Self.published, file: "b.toml").siem
        #expect(siem.installation == "bastion-eu1")
        #expect(siem.sinks.map(\.name) == ["soc", "splunk", "archive"])
        #expect(siem.sinks[0].kind == .syslog(host: "siem.example", port: 6514, tls: .init(caFile: "/etc/bastion/siem-ca.pem")))
        #expect(siem.sinks[0].streamSessions)
        #expect(siem.sinks[1].kind == .http(url: "https://splunk.example:8088/services/collector/event", token: "abc"))
        #expect(siem.sinks[1].format == .json)
        #expect(siem.sinks[2].kind == .file(path: "/var/log/bastion/events.jsonl", rotateBytes: 100 * 1_048_576, keep: 5))
        #expect(siem.sinks[2].accepts("auth.failed"))
        #expect(!siem.sinks[2].accepts("user.add"))
        #expect(BastionConfiguration.defaults.siem.sinks.isEmpty)
    }

    func expectError(_ text: String, key: String, line: Int, reason: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try BastionConfiguration.parse(text, file: "b.toml")
            Issue.record("parsed without error", sourceLocation: sourceLocation)
        } catch {
            #expect(error.key == key, "\(error)", sourceLocation: sourceLocation)
            #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
            #expect(error.reason.contains(reason), "\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("mistakes name the sink's key and line")
    func errors() {
        let first = "[[siem.sinks]]\nname = \"a\"\nkind = \"file\"\npath = \"/tmp/a\"\n"
        expectError(first + "[[siem.sinks]]\nname = \"b\"\nkind = \"kafka\"\n", key: "siem.sinks[1].kind", line: 7, reason: "must be syslog, http or file")
        expectError(first + "[[siem.sinks]]\nname = \"a\"\nkind = \"file\"\npath = \"/x\"\n", key: "siem.sinks[1].name", line: 6, reason: "already named")
        expectError("[[siem.sinks]]\nname = \"s\"\nkind = \"syslog\"\naddress = \"h:514\"\nurl = \"x\"\n", key: "siem.sinks[0].url", line: 5, reason: "not a key of a syslog sink")
        expectError("[[siem.sinks]]\nname = \"s\"\nkind = \"syslog\"\n", key: "siem.sinks[0]", line: 1, reason: "needs an address")
        expectError("[[siem.sinks]]\nname = \"s\"\nkind = \"syslog\"\naddress = \"h:514\"\nca_file = \"/ca\"\n", key: "siem.sinks[0].tls", line: 1, reason: "need tls = true")
        expectError("[[siem.sinks]]\nname = \"h\"\nkind = \"http\"\nurl = \"ftp://x\"\n", key: "siem.sinks[0].url", line: 4, reason: "http:// or https://")
        expectError(first + "format = \"leef\"\n", key: "siem.sinks[0].format", line: 5, reason: "json, cef or ocsf")
        expectError(first + "events = [\"Auth.*\"]\n", key: "siem.sinks[0].events", line: 5, reason: "invalid event type glob")
        expectError("[siem]\nsinks = 3\n", key: "siem.sinks", line: 2, reason: "an array of tables")
        expectError("[siem]\nalert_age = \"soon\"\n", key: "siem.alert_age", line: 2, reason: "")
    }
}
