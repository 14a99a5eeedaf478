/// `roles.NAME.file_transfer`: which way files may move over SFTP, legacy scp and rsync.
///
/// The relay enforces it twice: at channel start (``permitsSFTPSubsystem``,
/// ``permits(_:)`` for exec commands) and per SFTP request inside ``SFTPSession``, where a
/// refused request never reaches the target and the client gets `SSH_FX_PERMISSION_DENIED`.
/// A role with a shell can still move bytes with `cat`; the policy governs the file
/// transfer protocols, which is what the audit records describe file by file.
public enum FileTransferPolicy: String, Sendable, Hashable, CaseIterable {
    /// Everything SFTP and scp offer, every request and extension included.
    case allow
    /// Reading only: open for read (`SSH_FXF_READ` and no other flag), list directories,
    /// `stat`/`lstat`/`fstat`, `realpath`, `readlink` and the read-only OpenSSH extensions.
    /// Any open with WRITE, CREAT, TRUNC, APPEND (or EXCL, or an unknown flag) is refused, and
    /// so is every modification: rename, remove, mkdir, rmdir, setstat, fsetstat, symlink,
    /// `posix-rename`, `hardlink`, `lsetstat`, WRITE requests. `scp -t` is refused at start,
    /// and so is an rsync upload or an rsync download that writes on the target
    /// (`--remove-source-files`, `--log-file`, `--write-batch`).
    case download
    /// Writing only: open for write (WRITE set, READ clear: OpenSSH opens a request with
    /// neither flag read-only, so WRITE is required), mkdir, rename, setstat, fsetstat,
    /// symlink, hardlink, remove, rmdir; listing and `stat` stay allowed so clients can find
    /// their way. Any open with READ (or without WRITE) and every READ request is refused.
    /// `scp -f` and an rsync download are refused at start.
    case upload
    /// No file transfer at all: the relay refuses the `sftp` subsystem, rsync and `scp -t`/`-f` at
    /// channel start, and should a session get that far, ``SFTPSession`` refuses every request.
    case deny

    /// The value a configuration file spells (`"allow"`, `"download"`, `"upload"`, `"deny"`);
    /// nil for anything else, so a typo is a configuration error rather than a silent default.
    public init?(configurationValue text: String) {
        self.init(rawValue: text)
    }

    /// The default when a role says nothing (issue 19: `"allow"`).
    public static let defaultValue = FileTransferPolicy.allow

    /// Whether an `sftp` subsystem request (or an exec of `sftp-server`) may start at all.
    public var permitsSFTPSubsystem: Bool { self != .deny }

    /// Whether an exec command may run, as far as file transfers go: a recognised scp or
    /// rsync transfer in a permitted direction; an scp or rsync line Bastion cannot judge
    /// only under `allow` (fail closed: its direction is unknown). Commands that are no file
    /// transfer are not this policy's business and pass.
    public func permits(_ command: FileTransferCommand?) -> Bool {
        switch command {
        case nil: true
        case .sftpServer: permitsSFTPSubsystem
        case .unparsedSCP, .unparsedRsync: self == .allow
        case .scp(let scp): permits(scp.direction)
        case .rsync(let rsync):
            switch self {
            case .download: !rsync.needsUploadRight
            default: permits(rsync.direction)
            }
        }
    }

    private func permits(_ direction: FileTransferDirection) -> Bool {
        switch (self, direction) {
        case (.allow, _), (.download, .download), (.upload, .upload): true
        default: false
        }
    }

    /// The line the user reads when a transfer is refused; `role` names the role when known.
    public func refusalMessage(role: String? = nil) -> String {
        let who = role.map { "role \($0)" } ?? "your role"
        switch self {
        case .allow: return "bastion: refused"
        case .download: return "bastion: \(who) may only download files"
        case .upload: return "bastion: \(who) may only upload files"
        case .deny: return "bastion: \(who) may not transfer files"
        }
    }
}
