public import Foundation

/// A Bastion command that talks with the user while it runs (`elevate` waiting for a
/// decision, `approve` asking for a fresh TOTP code), without knowing about SSH: the
/// connection feeds it what the user typed and the passing of time, and writes what it says.
///
/// Called from one thread only (the connection's), so implementations need no locks.
public protocol CommandConversation: AnyObject {
    /// The first words, right after the command was accepted.
    func start(now: Date) -> CommandStep
    /// Bytes the user typed (raw: with a terminal, Ctrl-C arrives as 0x03).
    func receive(_ input: [UInt8], now: Date) -> CommandStep
    /// Called about ten times a second.
    func tick(now: Date) -> CommandStep
    /// The client sent end-of-input (stdin closed; `ssh` does this at once when its stdin is
    /// not a terminal and empty, so it is not an interruption).
    func endOfInput(now: Date) -> CommandStep
    /// The user interrupted or went away (Ctrl-C, a signal, the channel or connection closed).
    func interrupt(now: Date) -> CommandStep
}

/// What a conversation says, and whether it is over (`exitStatus` set).
public struct CommandStep: Sendable, Equatable {
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    public var exitStatus: Int32?
    /// Write the bytes as they are: no LF → CR LF for a terminal (a replayed recording already
    /// holds what the terminal got; `--raw` must be the file byte for byte).
    public var verbatim = false

    public init(stdout: String = "", stderr: String = "", exitStatus: Int32? = nil) {
        self.stdout = Array(stdout.utf8)
        self.stderr = Array(stderr.utf8)
        self.exitStatus = exitStatus
    }

    /// Bytes to write as they are (see ``verbatim``).
    public static func verbatim(_ bytes: [UInt8], exitStatus: Int32? = nil) -> CommandStep {
        var step = CommandStep(exitStatus: exitStatus)
        step.stdout = bytes
        step.verbatim = true
        return step
    }

    public static let nothing = CommandStep()

    public static func finished(_ output: CommandOutput) -> CommandStep {
        var step = CommandStep(exitStatus: output.exitStatus)
        step.stdout = output.stdout
        step.stderr = output.stderr
        return step
    }
}

/// What the router hands the connection: a finished answer, or a conversation to run.
public enum CommandResult {
    case output(CommandOutput)
    case conversation(any CommandConversation)
}
