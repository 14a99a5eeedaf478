/// What the relay does after feeding one chunk to ``SFTPSession`` or ``SCPSession``: write
/// ``toTarget`` and ``toClient`` (in this order relative to earlier steps), audit
/// ``operations``, and end the channel if ``protocolError`` is set.
public struct FileTransferStep: Sendable, Equatable {
    /// Bytes for the target; for SFTP whole packets only.
    public var toTarget: [UInt8]
    /// Bytes for the client; for SFTP whole packets only, so a refusal Bastion writes here
    /// always falls between two of the target's packets.
    public var toClient: [UInt8]
    /// Operations completed (or refused) by this input, in the order they completed.
    public var operations: [FileOperation]
    /// The stream broke the protocol (an oversized packet, a truncated field, an scp name
    /// with `/` or `..`): nothing more was forwarded, and every later input answers with the
    /// same error. Fail closed: the relay ends the channel and audits why.
    public var protocolError: FormatError?

    public init(toTarget: [UInt8] = [], toClient: [UInt8] = [], operations: [FileOperation] = [], protocolError: FormatError? = nil) {
        self.toTarget = toTarget
        self.toClient = toClient
        self.operations = operations
        self.protocolError = protocolError
    }
}

/// The step of ``SFTPSession``.
public typealias SFTPStep = FileTransferStep
/// The step of ``SCPSession``.
public typealias SCPStep = FileTransferStep
