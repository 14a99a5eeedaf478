import BastionCore
import Foundation
import Testing

/// The elevation commands as users type them, through the local shell (which eats quotes) or not.
@Suite("Elevation commands")
struct ElevationCommandTests {
    @Test("elevate: reason with or without quotes, options in any order, durations")
    func elevate() throws {
        let expected = BastionCommand.elevate(.init(target: "web01", reason: "restart nginx after cert rotation", login: "root", duration: 1_800, wait: true))
        #expect(try BastionCommand(commandLine: "elevate web01 --reason restart nginx after cert rotation --login root --for 30m") == expected)
        #expect(try BastionCommand(commandLine: #"elevate web01 --reason "restart nginx after cert rotation" --login root --for 30m"#) == expected)
        #expect(try BastionCommand(commandLine: "elevate --for=30m --login=root web01 --reason 'restart nginx after cert rotation'") == expected)
        #expect(
            try BastionCommand(commandLine: "elevate web01 --no-wait --reason fix")
                == .elevate(.init(target: "web01", reason: "fix", login: nil, duration: nil, wait: false))
        )
        #expect(try BastionCommand(commandLine: "elevate --drop 0a1b2c3d") == .drop(id: "0a1b2c3d"))
    }

    @Test("elevate without a reason, with a bad duration, unknown option, two targets: one clear line each")
    func elevateRefusals() {
        for (line, words) in [
            ("elevate web01", "a reason is required"), ("elevate web01 --reason", "a reason is required"),
            ("elevate web01 --reason x --for soon", "invalid --for"), ("elevate web01 --reason x --sudo", "unknown option"),
            ("elevate web01 web02 --reason x", "name one target"), ("elevate --drop", "needs a value"),
            (#"elevate web01 --reason "unbalanced"#, "unbalanced quote"),
        ] {
            #expect {
                try BastionCommand(commandLine: line)
            } throws: { error in
                (error as? BastionCommand.ParseError)?.message.contains(words) == true
            }
        }
    }

    @Test("approve, deny (reason required), requests")
    func decisions() throws {
        #expect(try BastionCommand(commandLine: "approve 0a1b2c3d") == .decide(id: "0a1b2c3d", approve: true, comment: ""))
        #expect(try BastionCommand(commandLine: "approve 0a1b2c3d --comment looks fine") == .decide(id: "0a1b2c3d", approve: true, comment: "looks fine"))
        #expect(try BastionCommand(commandLine: "deny 0a1b2c3d --reason not during the freeze") == .decide(id: "0a1b2c3d", approve: false, comment: "not during the freeze"))
        #expect(throws: BastionCommand.ParseError.self) { try BastionCommand(commandLine: "deny 0a1b2c3d") }
        #expect(throws: BastionCommand.ParseError.self) { try BastionCommand(commandLine: "approve") }
        #expect(try BastionCommand(commandLine: "requests") == .requests(pending: false))
        #expect(try BastionCommand(commandLine: "requests --pending") == .requests(pending: true))
    }
}
