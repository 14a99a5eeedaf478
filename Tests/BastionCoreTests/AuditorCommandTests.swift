import BastionCore
import Foundation
import Testing

/// The auditors' commands as typed, the text they search, and the markers elevation leaves.
@Suite("Auditor commands")
struct AuditorCommandTests {
    @Test("sessions and replay parse their options; bad values get one clear line")
    func parsing() throws {
        #expect(
            try BastionCommand(commandLine: "sessions --user alice --target web01 --since 7d --grep nginx restart")
                == .sessions(.init(user: "alice", target: "web01", since: "7d", grep: "nginx restart"))
        )
        #expect(try BastionCommand(commandLine: "replay 0a1b --speed 2 --idle-limit 1 --from 00:03:10") == .replay(.init(id: "0a1b", speed: 2, idleLimit: 1, from: 190)))
        #expect(try BastionCommand(commandLine: "replay 0a1b --raw --force") == .replay(.init(id: "0a1b", raw: true, force: true)))
        #expect(try BastionCommand(commandLine: "web") == .web)
        for (line, words) in [
            ("replay", "name one session id"), ("replay x --speed 0", "--speed"), ("replay x --from 1:75", "--from"),
            ("sessions --grep", "needs words"), ("sessions extra", "unexpected"), ("web now", "takes no arguments"),
        ] {
            #expect {
                try BastionCommand(commandLine: line)
            } throws: { error in
                (error as? BastionCommand.ParseError)?.message.contains(words) == true
            }
        }
    }

    @Test("time bounds: durations ago, days, instants")
    func timeBounds() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(TimeBound.parse("7d", now: now) == now.addingTimeInterval(-7 * 86_400))
        #expect(TimeBound.parse("2026-11-01", now: now) == Date(timeIntervalSince1970: 1_793_491_200))
        #expect(TimeBound.parse("2026-11-01T09:00:00Z", now: now) == Date(timeIntervalSince1970: 1_793_523_600))
        #expect(TimeBound.parse("yesterday", now: now) == nil)
    }

    @Test("terminal text: escapes removed, words kept, controls become spaces")
    func terminalText() {
        #expect(TerminalText.strip("\u{1B}[1;32mnginx\u{1B}[0m restarted\r\n") == "nginx restarted  ")
        #expect(TerminalText.strip("\u{1B}]0;root@web01: ~\u{07}$ ls\u{1B}[K") == "$ ls")
        #expect(TerminalText.strip("a\u{1B}(Bb\u{1B}]2;t\u{1B}\\c") == "abc")
        #expect(TerminalText.strip("café ✓\tok") == "café ✓ ok")
    }

    @Test("full-text queries quote every word, so operators and quotes are plain text")
    func fullTextQuery() {
        #expect(SessionQuery(grep: "nginx restart").fullTextQuery == #""nginx" "restart""#)
        #expect(SessionQuery(grep: #"a"b OR NOT c*"#).fullTextQuery == #""a""b" "OR" "NOT" "c*""#)
        #expect(SessionQuery(grep: "   ").fullTextQuery == nil)
    }

    @Test("elevation events and sudo checks become markers in the requester's live sessions on that target")
    func markers() {
        let approved = AuditEvent(
            type: .elevationApproved, time: Date(), target: "web01", details: ["request_id": "0a1b2c3d", "approver": "bob", "requester": "alice"]
        )
        #expect(MarkingAuditEmitter.label(for: approved) == "elevation 0a1b2c3d approved by bob")
        let sudo = AuditEvent(
            type: .elevationSudo, time: Date(), actor: .init(user: "alice"), target: "web01",
            details: ["decision": "allow", "command": "sudo systemctl restart nginx"]
        )
        #expect(MarkingAuditEmitter.label(for: sudo) == "sudo allow: sudo systemctl restart nginx")
        #expect(MarkingAuditEmitter.label(for: AuditEvent(type: .authLogin, time: Date())) == nil)
    }
}
