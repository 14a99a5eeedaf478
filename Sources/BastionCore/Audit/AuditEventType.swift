/// One entry of Bastion's audit vocabulary: a dotted name and a stable code.
///
/// Codes follow Teleport's scheme: `B` + four digits + a severity letter (`I` info,
/// `W` warning, `E` error, `C` critical). Names and codes are a published interface
/// (SIEM rules match on them): never reuse or renumber one; add new ones. The table in
/// `docs/audit-events.md` lists them all.
public struct AuditEventType: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let code: String

    public init(_ name: String, code: String) {
        self.name = name
        self.code = code
    }

    public var severity: AuditSeverity {
        switch code.last {
        case "W": .warning
        case "E": .error
        case "C": .critical
        default: .info
        }
    }

    public var description: String { "\(name) (\(code))" }
}

public enum AuditSeverity: String, Sendable, Codable {
    case info, warning, error, critical
}

extension AuditEventType {
    // Authentication (B1xxx)
    public static let authLogin = AuditEventType("auth.login", code: "B1000I")
    public static let authFailed = AuditEventType("auth.failed", code: "B1001W")
    public static let authLockout = AuditEventType("auth.lockout", code: "B1002W")
    public static let authKeyAccepted = AuditEventType("auth.key_accepted", code: "B1003I")
    /// A source address crossed its penalty minimum: its connections are refused until `until`
    /// (one record per source per period, however many connections it keeps making).
    public static let sshPenalty = AuditEventType("ssh.penalty", code: "B1004W")
    /// A PROXY protocol header refused: from a source not in `ssh.trusted_proxies`, or
    /// malformed, late or missing from one that is.
    public static let sshProxyRefused = AuditEventType("ssh.proxy_refused", code: "B1005W")

    // Certificates (B11xx)
    public static let certIssue = AuditEventType("cert.issue", code: "B1100I")
    public static let certRefused = AuditEventType("cert.refused", code: "B1101W")

    // User administration (B12xx)
    public static let userAdd = AuditEventType("user.add", code: "B1200I")
    public static let userRemove = AuditEventType("user.remove", code: "B1201I")
    public static let userLock = AuditEventType("user.lock", code: "B1202W")
    public static let userUnlock = AuditEventType("user.unlock", code: "B1203I")
    public static let userResetTOTP = AuditEventType("user.reset_totp", code: "B1204W")
    public static let userAddKey = AuditEventType("user.add_key", code: "B1205I")

    // Commands and channels (B13xx)
    public static let commandRun = AuditEventType("command.run", code: "B1300I")
    public static let commandDenied = AuditEventType("command.denied", code: "B1301W")
    public static let forwardRefused = AuditEventType("forward.refused", code: "B1302W")
    public static let forwardOpen = AuditEventType("forward.open", code: "B1303I")
    public static let forwardClose = AuditEventType("forward.close", code: "B1304I")
    /// The enforcement point ended a connection that had no relayed session (forwards, a command).
    public static let connectionEnd = AuditEventType("connection.end", code: "B1305W")

    // Daemon lifecycle and configuration (B14xx)
    public static let serverStart = AuditEventType("server.start", code: "B1400I")
    public static let serverStop = AuditEventType("server.stop", code: "B1401I")
    public static let keyCreate = AuditEventType("server.key_create", code: "B1402I")
    public static let configChanged = AuditEventType("config.changed", code: "B1403W")
    /// SIGHUP: the file re-read, applied (with what changed) or refused (nothing changed).
    public static let configReload = AuditEventType("config.reload", code: "B1404W")

    // Keys and backups (B18xx): docs/keys.md.
    public static let keyRotate = AuditEventType("key.rotate", code: "B1800W")
    public static let keyRewrap = AuditEventType("key.rewrap", code: "B1801I")
    public static let keyRetire = AuditEventType("key.retire", code: "B1802I")
    public static let keyDestroy = AuditEventType("key.destroy", code: "B1803W")
    public static let caRotate = AuditEventType("ca.rotate", code: "B1804W")
    public static let backupCreate = AuditEventType("backup.create", code: "B1805I")
    public static let backupDrill = AuditEventType("backup.drill", code: "B1806I")
    public static let backupRestore = AuditEventType("backup.restore", code: "B1807W")

    // The audit log itself, and auditors' actions (B15xx): auditing the auditors.
    public static let auditVerify = AuditEventType("audit.verify", code: "B1500I")
    public static let auditSearch = AuditEventType("audit.search", code: "B1501I")
    public static let auditExport = AuditEventType("audit.export", code: "B1502I")
    public static let auditPurge = AuditEventType("audit.purge", code: "B1503I")
    public static let holdAdd = AuditEventType("audit.hold_add", code: "B1504W")
    public static let holdRemove = AuditEventType("audit.hold_remove", code: "B1505W")
    /// Not a chained record: the copy of a signed checkpoint that SIEM sinks receive.
    public static let auditCheckpoint = AuditEventType("audit.checkpoint", code: "B1506I")

    // SIEM delivery (B16xx)
    public static let siemBacklog = AuditEventType("siem.backlog", code: "B1600W")
    public static let siemRecovered = AuditEventType("siem.recovered", code: "B1601I")

    // Elevation: requests, decisions, grants (B17xx)
    public static let elevationRequested = AuditEventType("elevation.requested", code: "B1700I")
    public static let elevationApproval = AuditEventType("elevation.approval", code: "B1701I")
    public static let elevationApproved = AuditEventType("elevation.approved", code: "B1702W")
    public static let elevationDenied = AuditEventType("elevation.denied", code: "B1703I")
    public static let elevationExpired = AuditEventType("elevation.expired", code: "B1704I")
    public static let elevationWithdrawn = AuditEventType("elevation.withdrawn", code: "B1705I")
    public static let elevationActive = AuditEventType("elevation.active", code: "B1706W")
    public static let elevationEnded = AuditEventType("elevation.ended", code: "B1707I")
    public static let elevationRevoked = AuditEventType("elevation.revoked", code: "B1708W")
    public static let elevationRefused = AuditEventType("elevation.refused", code: "B1709W")
    public static let elevationSudo = AuditEventType("elevation.sudo", code: "B1710I")

    // Sessions and recordings (B20xx)
    public static let sessionStart = AuditEventType("session.start", code: "B2000I")
    public static let sessionEnd = AuditEventType("session.end", code: "B2001I")
    public static let sessionDenied = AuditEventType("session.denied", code: "B2002W")
    public static let hostKeyMismatch = AuditEventType("target.host_key_mismatch", code: "B2003C")
    public static let recordingFailed = AuditEventType("recording.failed", code: "B2004E")
    public static let recordingRecovered = AuditEventType("recording.recovered", code: "B2005W")
    public static let sessionKill = AuditEventType("session.kill", code: "B2006W")
    public static let recordingPurge = AuditEventType("recording.purge", code: "B2007I")
    public static let sessionList = AuditEventType("session.list", code: "B2008I")
    /// Not a chained record: a piece of a live recording streamed to SIEM sinks.
    public static let sessionData = AuditEventType("session.data", code: "B2009I")
    public static let sessionSearch = AuditEventType("session.search", code: "B2010I")
    public static let sessionReplay = AuditEventType("session.replay", code: "B2011I")
    public static let sessionExport = AuditEventType("session.export", code: "B2012I")
    public static let recordingIntegrity = AuditEventType("recording.integrity", code: "B2013E")
    public static let recordingExport = AuditEventType("recording.export", code: "B2014I")
    /// A watch of a live session started (`watch ID`), or was refused (outcome failure).
    public static let sessionWatch = AuditEventType("session.watch", code: "B2015I")
    public static let sessionWatchEnd = AuditEventType("session.watch_end", code: "B2016I")
    /// A watcher ended a live session (`watch ID --terminate`), or was refused.
    public static let sessionTerminate = AuditEventType("session.terminate", code: "B2017W")

    // The auditors' web view (B21xx)
    public static let webSignInLink = AuditEventType("web.signin_link", code: "B2100I")
    public static let webSignIn = AuditEventType("web.signin", code: "B2101I")
    public static let webSignOut = AuditEventType("web.signout", code: "B2102I")
    public static let webRefused = AuditEventType("web.refused", code: "B2103W")

    // File transfers, file by file (B22xx): SFTP and legacy scp parsed on the relay
    public static let fileOpen = AuditEventType("file.open", code: "B2200I")
    public static let fileClose = AuditEventType("file.close", code: "B2201I")
    public static let fileRename = AuditEventType("file.rename", code: "B2202I")
    public static let fileRemove = AuditEventType("file.remove", code: "B2203I")
    public static let fileMkdir = AuditEventType("file.mkdir", code: "B2204I")
    public static let fileRmdir = AuditEventType("file.rmdir", code: "B2205I")
    public static let fileSetstat = AuditEventType("file.setstat", code: "B2206I")
    public static let fileSymlink = AuditEventType("file.symlink", code: "B2207I")
    /// An operation the role's `file_transfer` does not allow: refused on the relay, never
    /// reaching the target.
    public static let fileRefused = AuditEventType("file.refused", code: "B2208W")

    /// Every type defined above, for the documentation and schema tests.
    public static let all: [AuditEventType] = [
        .authLogin, .authFailed, .authLockout, .authKeyAccepted, .sshPenalty, .sshProxyRefused,
        .certIssue, .certRefused,
        .userAdd, .userRemove, .userLock, .userUnlock, .userResetTOTP, .userAddKey,
        .commandRun, .commandDenied, .forwardRefused, .forwardOpen, .forwardClose, .connectionEnd,
        .serverStart, .serverStop, .keyCreate, .configChanged, .configReload,
        .keyRotate, .keyRewrap, .keyRetire, .keyDestroy, .caRotate, .backupCreate, .backupDrill, .backupRestore,
        .auditVerify, .auditSearch, .auditExport, .auditPurge, .holdAdd, .holdRemove, .auditCheckpoint, .siemBacklog, .siemRecovered,
        .elevationRequested, .elevationApproval, .elevationApproved, .elevationDenied, .elevationExpired, .elevationWithdrawn,
        .elevationActive, .elevationEnded, .elevationRevoked, .elevationRefused, .elevationSudo,
        .sessionStart, .sessionEnd, .sessionDenied, .hostKeyMismatch, .recordingFailed, .recordingRecovered, .sessionKill,
        .recordingPurge, .sessionList, .sessionData, .sessionSearch, .sessionReplay, .sessionExport, .recordingIntegrity, .recordingExport,
        .sessionWatch, .sessionWatchEnd, .sessionTerminate,
        .webSignInLink, .webSignIn, .webSignOut, .webRefused,
        .fileOpen, .fileClose, .fileRename, .fileRemove, .fileMkdir, .fileRmdir, .fileSetstat, .fileSymlink, .fileRefused,
    ]
}
