import BastionCore

/// The file-transfer parser a relayed channel's bytes go through: SFTP for the `sftp`
/// subsystem, the legacy scp protocol for `scp -t`/`scp -f` exec commands.
///
/// A class holding the parser as an optional so that each chunk mutates it in place (an enum
/// payload would be copied, digests and buffers with it). Owned by the connection thread.
final class FileTransferTap {
    private var sftp: SFTPSession?
    private var scp: SCPSession?
    /// `sftp` or `scp`: the `via` detail of the audit records.
    let via: String

    init(sftp: SFTPSession) {
        self.sftp = sftp
        self.via = "sftp"
    }

    init(scp: SCPSession) {
        self.scp = scp
        self.via = "scp"
    }

    func fromClient(_ bytes: [UInt8]) -> FileTransferStep {
        if sftp != nil { return sftp!.fromClient(bytes) }
        return scp!.fromClient(bytes)
    }

    func fromTarget(_ bytes: [UInt8]) -> FileTransferStep {
        if sftp != nil { return sftp!.fromTarget(bytes) }
        return scp!.fromTarget(bytes)
    }

    func finish() -> [FileOperation] {
        if sftp != nil { return sftp!.finish() }
        return scp!.finish()
    }
}
