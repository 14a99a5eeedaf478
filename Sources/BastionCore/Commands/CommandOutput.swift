/// What a Bastion command produced, for the SSH layer to deliver on the channel.
public struct CommandOutput: Sendable, Equatable {
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    public var exitStatus: Int32

    public init(stdout: String = "", stderr: String = "", exitStatus: Int32 = 0) {
        self.stdout = Array(stdout.utf8)
        self.stderr = Array(stderr.utf8)
        self.exitStatus = exitStatus
    }

    /// A refusal: one line on stderr and a non-zero exit.
    public static func failure(_ message: String, exitStatus: Int32 = 1) -> CommandOutput {
        CommandOutput(stderr: "bastion: \(message)\n", exitStatus: exitStatus)
    }
}
