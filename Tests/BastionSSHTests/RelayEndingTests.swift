@testable import BastionSSH
import Foundation
import Testing

/// The order a relayed session ends in, as OpenSSH needs it, without sockets: each case is a
/// sequence of turns (what the relay saw, what the target reported) and the actions expected.
@Suite("Relay ending")
struct RelayEndingTests {
    typealias Facts = RelayEnding.Facts

    struct Turn: Sendable {
        var facts = Facts()
        var status: Int32?
        var signal: ExitSignal?
        /// Seconds since the first turn.
        var at: TimeInterval = 0
        var expected: [RelayEnding.Action]
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var turns: [Turn]
        var finished = true
        var testDescription: String { name }
    }

    static let done = Facts(targetDone: true)
    static let segv = ExitSignal(name: "SEGV", coreDumped: true, message: "")

    static let cases: [Case] = [
        Case(name: "a command ends: EOF, then its status once reported, then CLOSE", turns: [
            Turn(facts: done, expected: [.eofToClient]),
            Turn(facts: done, status: 3, expected: [.exitStatus(3), .closeClient]),
            Turn(facts: Facts(targetDone: true, targetClosed: true, clientClosed: true), expected: []),
        ]),
        Case(name: "a status reported before the output is through waits for the EOF", turns: [
            Turn(status: 0, expected: []),
            Turn(facts: done, expected: [.eofToClient, .exitStatus(0), .closeClient]),
        ]),
        Case(name: "an exit signal is sent instead of a status", turns: [
            Turn(facts: done, status: 139, signal: segv, expected: [.eofToClient, .exitSignal(segv), .closeClient]),
        ]),
        Case(name: "a target that closed without reporting: the status libssh kept", turns: [
            Turn(facts: Facts(targetDone: true, targetClosed: true, keptExitStatus: 7), expected: [.eofToClient, .exitStatus(7), .closeClient]),
        ]),
        Case(name: "a target that closed with no status at all: EOF and CLOSE", turns: [
            Turn(facts: Facts(targetDone: true, targetClosed: true, keptExitStatus: -1), expected: [.eofToClient, .closeClient]),
        ]),
        Case(name: "the client's EOF goes to the target once", turns: [
            Turn(facts: Facts(clientDone: true), expected: [.eofToTarget]),
            Turn(facts: Facts(clientDone: true), expected: []),
        ], finished: false),
        Case(name: "a client that closes after both EOFs still gets the status that follows (sshd sends EOF first)", turns: [
            Turn(facts: done, expected: [.eofToClient]),
            Turn(facts: Facts(targetDone: true, clientClosed: true), at: 0.1, expected: []),
            Turn(facts: Facts(targetDone: true, clientClosed: true), status: 7, at: 0.2, expected: [.exitStatus(7), .closeClient]),
        ]),
        Case(name: "a client that closed after both EOFs: a target that never reports is closed after the grace", turns: [
            Turn(facts: done, expected: [.eofToClient]),
            Turn(facts: Facts(targetDone: true, clientClosed: true), at: 1, expected: []),
            Turn(facts: Facts(targetDone: true, clientClosed: true), at: 1 + RelayEnding.statusGrace, expected: [.closeTarget]),
        ]),
        Case(name: "a client that closed after both EOFs, then the target closes: the status libssh kept", turns: [
            Turn(facts: done, expected: [.eofToClient]),
            Turn(facts: Facts(targetDone: true, clientClosed: true), expected: []),
            Turn(facts: Facts(targetDone: true, targetClosed: true, clientClosed: true, keptExitStatus: 7), at: 0.1, expected: [.exitStatus(7), .closeClient]),
        ]),
        Case(name: "a client that closes first closes the target side", turns: [
            Turn(facts: Facts(clientClosed: true), expected: [.closeTarget]),
            Turn(facts: Facts(targetDone: true, clientClosed: true), status: 0, expected: [.eofToClient, .exitStatus(0)]),
        ]),
    ]

    @Test("each ending, turn by turn", arguments: cases)
    func ends(_ example: Case) {
        var ending = RelayEnding()
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        for (index, turn) in example.turns.enumerated() {
            if let status = turn.status { ending.exitStatus = status }
            if let signal = turn.signal { ending.exitSignal = signal }
            #expect(ending.advance(turn.facts, now: now.addingTimeInterval(turn.at)) == turn.expected, "turn \(index)")
        }
        #expect(ending.isFinished == example.finished)
    }

    @Test("Bastion ending a session: no exit status follows, even one the target reports afterwards")
    func terminate() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var ending = RelayEnding()
        #expect(ending.terminate(targetSentEOF: false, now: now) == [.eofToTarget, .closeTarget, .eofToClient, .closeClient])
        #expect(ending.closedAt == now)
        ending.exitStatus = 0
        #expect(ending.advance(Facts(clientDone: true, targetDone: true, targetClosed: true), now: now).isEmpty)

        var afterEOF = RelayEnding()
        #expect(afterEOF.advance(Self.done, now: now) == [.eofToClient])
        #expect(afterEOF.terminate(targetSentEOF: true, now: now) == [.closeTarget, .closeClient])
    }
}
