import Foundation

/// How a target ended its side of a session, as it reported it (`exit-signal`).
struct ExitSignal: Equatable {
    var name: String
    var coreDumped: Bool
    var message: String
}

/// How a relayed session's two channels end, in the order OpenSSH needs: EOF each way once
/// the bytes before it are through, then the target's exit status (or signal) to the client,
/// then CLOSE. A state machine over what the relay observed, returning what to send; the
/// relay only sends it (``SessionRelay``), so every ordering rule is tested without sockets.
struct RelayEnding: Equatable {
    /// What the relay sees this turn.
    struct Facts: Equatable {
        /// The client sent EOF, and every byte it sent before has gone to the target.
        var clientDone = false
        /// The target sent EOF, and every byte it sent before (stdout and stderr) has gone
        /// to the client.
        var targetDone = false
        var targetClosed = false
        var clientClosed = false
        /// The status libssh kept from a closed target, when the callback reported none.
        var keptExitStatus: Int32?
    }

    enum Action: Equatable {
        case eofToTarget
        case eofToClient
        case exitStatus(Int32)
        case exitSignal(ExitSignal)
        case closeClient
        case closeTarget
    }

    /// What the target reported (`exit-status`, `exit-signal` callbacks).
    var exitStatus: Int32?
    var exitSignal: ExitSignal?
    private(set) var eofSentToTarget = false
    private(set) var eofSentToClient = false
    private(set) var exitSent = false
    /// When Bastion sent the client CLOSE, or saw the client close first: the session is over.
    private(set) var closedAt: Date?
    /// When the client's CLOSE was first seen.
    private(set) var clientClosedAt: Date?

    /// How long Bastion still waits for the target's exit status once the client has closed
    /// after Bastion's EOF. sshd sends EOF before `exit-status`, and `ssh` closes as soon as
    /// both EOFs are through (stdin at end), so the status can arrive after the client's
    /// CLOSE: sent before Bastion's own CLOSE, `ssh` still reports it (without the wait it
    /// exited 255, now and then, under load). Bounded, so a target that never reports cannot
    /// hold the channel.
    static let statusGrace: TimeInterval = 2

    var isFinished: Bool { closedAt != nil }

    /// One turn: what may be sent now, in order.
    mutating func advance(_ facts: Facts, now: Date) -> [Action] {
        var actions: [Action] = []
        if !eofSentToTarget, facts.clientDone {
            eofSentToTarget = true
            actions.append(.eofToTarget)
        }
        if !eofSentToClient, facts.targetDone {
            eofSentToClient = true
            actions.append(.eofToClient)
        }
        if !exitSent, eofSentToClient, exitStatus == nil, exitSignal == nil, facts.targetClosed, let kept = facts.keptExitStatus, kept >= 0 {
            exitStatus = kept
        }
        // exit-status must precede CLOSE, or `ssh` reports no status.
        if !exitSent, eofSentToClient, exitStatus != nil || exitSignal != nil || facts.targetClosed {
            exitSent = true
            if let signal = exitSignal {
                actions.append(.exitSignal(signal))
            } else if let status = exitStatus {
                actions.append(.exitStatus(status))
            }
        }
        if closedAt == nil, exitSent, eofSentToClient {
            closedAt = now
            actions.append(.closeClient)
        }
        if closedAt == nil, facts.clientClosed {
            if clientClosedAt == nil { clientClosedAt = now }
            let statusMayCome = eofSentToClient && !exitSent && !facts.targetClosed
                && now.timeIntervalSince(clientClosedAt ?? now) < Self.statusGrace
            if !statusMayCome {
                // The client went away first: close the target side too.
                closedAt = now
                actions.append(.closeTarget)
            }
        }
        return actions
    }

    /// Bastion ends the session (timeout, lock, recording failure): the target side closes,
    /// the client gets EOF and CLOSE and no exit status. A target's own status (a command that
    /// already ended, `ssh … true`) would otherwise follow, and the client would read success
    /// for a session Bastion refused. The caller writes the user's line first.
    mutating func terminate(targetSentEOF: Bool, now: Date) -> [Action] {
        var actions: [Action] = []
        if !targetSentEOF { actions.append(.eofToTarget) }
        eofSentToTarget = true
        actions.append(.closeTarget)
        if !eofSentToClient {
            eofSentToClient = true
            actions.append(.eofToClient)
        }
        exitSent = true
        if closedAt == nil {
            closedAt = now
            actions.append(.closeClient)
        }
        return actions
    }
}
