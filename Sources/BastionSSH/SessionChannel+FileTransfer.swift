import BastionCore
import Foundation

/// Why a channel's file transfer was refused at its start.
struct FileTransferRefusal {
    /// `sftp`, `scp upload`, `scp download`, `scp`.
    var operation: String
    var path: String?
    /// One line for the user, without the `bastion: ` prefix.
    var userMessage: String
}

/// What a channel's file transfer policy makes of it at its start.
enum FileTransferStart {
    /// No file transfer: bytes pass as read.
    case plain
    /// Parsed on the relay, file by file.
    case tapped(FileTransferTap)
    case refused(FileTransferRefusal)
}

extension SessionChannel {
    // MARK: - At channel start

    /// The parser this channel's bytes go through, or the refusal when the role's
    /// `file_transfer` does not allow what it asks.
    static func fileTransferTap(for kind: SessionKind, policy: FileTransferPolicy) -> FileTransferStart {
        func refusal(_ operation: String, path: String? = nil) -> FileTransferStart {
            let message = policy.refusalMessage()
            let line = message.hasPrefix("bastion: ") ? String(message.dropFirst("bastion: ".count)) : message
            return .refused(FileTransferRefusal(operation: operation, path: path, userMessage: line))
        }
        switch kind {
        case .shell:
            return .plain
        case .subsystem(let name):
            guard name == "sftp" else { return .plain }
            guard policy.permitsSFTPSubsystem else { return refusal("sftp") }
            return .tapped(FileTransferTap(sftp: SFTPSession(policy: policy)))
        case .exec(let command):
            let transfer = FileTransferCommand.recognise(command)
            guard policy.permits(transfer) else {
                switch transfer {
                case .scp(let scp): return refusal("scp \(scp.direction.rawValue)", path: scp.path)
                case .sftpServer: return refusal("sftp")
                case .rsync(let rsync):
                    let operation = "rsync \(rsync.direction.rawValue)" + (rsync.writesOnTarget.map { " " + $0 } ?? "")
                    return refusal(operation, path: rsync.paths.first)
                case .unparsedRsync: return refusal("rsync")
                default: return refusal("scp")
                }
            }
            switch transfer {
            case .scp(let scp): return .tapped(FileTransferTap(scp: SCPSession(command: scp)))
            case .sftpServer: return .tapped(FileTransferTap(sftp: SFTPSession(policy: policy)))
            case .unparsedSCP, .rsync, .unparsedRsync, nil: return .plain
            }
        }
    }

    // MARK: - While it runs

    /// `file.*` records for what the tap completed; returns how many.
    @discardableResult
    func auditFileOperations(_ operations: [FileOperation], of session: LiveSession, via: String, policy: FileTransferPolicy) -> Int {
        for operation in operations {
            var details = operation.details
            details["session_id"] = session.id.rawValue
            details["login"] = session.login
            details["protocol"] = via
            let type: AuditEventType
            if operation.denied != nil {
                type = .fileRefused
                details["operation"] = operation.request ?? operation.kind.rawValue
                details["file_transfer"] = policy.rawValue
            } else {
                type = switch operation.kind {
                case .open: .fileOpen
                case .close: .fileClose
                case .rename: .fileRename
                case .remove: .fileRemove
                case .mkdir: .fileMkdir
                case .rmdir: .fileRmdir
                case .setstat: .fileSetstat
                case .symlink, .hardlink: .fileSymlink
                case .other: .fileRefused
                }
                if operation.kind == .hardlink { details["request"] = "hardlink" }
            }
            connection.audit(type, outcome: operation.succeeded ? .success : .failure, target: session.target, reason: operation.reason, details: details)
        }
        return operations.count
    }
}
