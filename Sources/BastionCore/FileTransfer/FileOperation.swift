/// One file operation seen on an SFTP or legacy scp channel: what becomes a `file.*` audit
/// record (`file.` + ``Kind/rawValue``), with `outcome = failure` when it was ``denied`` by
/// Bastion or ``failure`` reports the target's refusal.
///
/// Reported when the target confirms it (SFTP `HANDLE` or `STATUS`, scp's `\0` ack), when it
/// fails there, or at once when Bastion refuses it.
public struct FileOperation: Sendable, Equatable {
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case open, close, rename, remove, mkdir, rmdir, setstat, symlink
        /// `hardlink@openssh.com`.
        case hardlink
        /// A request Bastion refused that is none of the above (a READ under `upload`, an
        /// extension outside the known list under a restricted policy, anything under `deny`):
        /// every refusal is audited. ``request`` names it.
        case other
    }

    /// Why a digest is or is not given (`sha256_status`).
    public enum DigestStatus: String, Sendable, Hashable {
        /// ``FileOperation/sha256`` covers every byte that crossed, in offset order from 0.
        case complete
        /// Gaps, overlaps, or more reordering than the window holds: no digest.
        case nonSequential = "non-sequential"
        /// The file was both read and written on one handle: no single digest describes it.
        case readAndWrite = "read-and-write"
        /// A WRITE the target refused: the bytes that crossed are not the file's.
        case writeFailed = "write-failed"
    }

    public var kind: Kind
    /// The path as the client named it (SFTP) or as the directory stack builds it (scp); for
    /// `symlink` the first SFTP argument (OpenSSH sends the link's target first).
    public var path: String
    /// rename/hardlink: the new name; symlink: the second SFTP argument (the link OpenSSH
    /// creates).
    public var secondPath: String?
    /// open/close: the open flags, `"read"`, `"write,create,truncate"` ...
    public var flags: String?
    /// scp uploads whose target may or may not be a directory: the name the source sent.
    public var name: String?
    /// `other`: the request refused (`"read"`, `"stat"`, `"copy-data"` ...).
    public var request: String?
    /// close: bytes the target sent for this handle (SFTP DATA, scp download data).
    public var bytesRead: UInt64 = 0
    /// close: bytes the client sent for this handle, minus WRITEs the target refused.
    public var bytesWritten: UInt64 = 0
    /// close: lowercase hex SHA-256 of the bytes that crossed, when ``sha256Status`` is
    /// `complete`.
    public var sha256: String?
    public var sha256Status: DigestStatus?
    /// Bastion refused the operation (it never reached the target): the audit reason.
    public var denied: String?
    /// The target refused it: its status text (`"No such file (2)"`), or why the operation
    /// did not finish (`"channel ended before close"`).
    public var failure: String?

    public init(
        kind: Kind, path: String, secondPath: String? = nil, flags: String? = nil, name: String? = nil, request: String? = nil,
        denied: String? = nil, failure: String? = nil
    ) {
        self.kind = kind
        self.path = path
        self.secondPath = secondPath
        self.flags = flags
        self.name = name
        self.request = request
        self.denied = denied
        self.failure = failure
    }

    /// Neither refused by Bastion nor failed on the target.
    public var succeeded: Bool { denied == nil && failure == nil }

    /// The audit record's `reason` for a failure outcome.
    public var reason: String? { denied ?? failure }

    /// The audit record's `details`: `path`, `to`, `flags`, `name`, `request`, and for `close`
    /// `bytes_read`, `bytes_written`, `sha256`, `sha256_status` (only those that apply).
    public var details: [String: String] {
        var details: [String: String] = [:]
        // A refused request without a path (`other`) has none to search by.
        if !path.isEmpty { details["path"] = path }
        details["to"] = secondPath
        details["flags"] = flags
        details["name"] = name
        details["request"] = request
        if kind == .close {
            details["bytes_read"] = String(bytesRead)
            details["bytes_written"] = String(bytesWritten)
        }
        details["sha256"] = sha256
        details["sha256_status"] = sha256Status?.rawValue
        return details
    }
}
