public import BastionCore
public import BastionCrypto
public import BastionSSH

#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// Everything `Config/bastiond.toml` says, parsed and validated.
///
/// Every key has a default (`defaults`), so an empty file is a valid configuration. Durations
/// are seconds. Roles and targets are the `policy`; users and their roles live in the database.
/// See docs/configuration.md for each key.
public struct BastionConfiguration: Sendable, Equatable {
    public var server: ServerConfiguration
    /// `[storage]`: SQLite in the data directory, or one PostgreSQL database for several nodes.
    public var storage: StorageConfiguration
    /// `[keys]`: where the CAs, the audit key and the master key live.
    public var keys: KeysConfiguration
    /// `[ca]`: the CAs' rotation.
    public var ca: CAConfiguration
    public var ssh: SSHConfiguration
    public var http: HTTPConfiguration
    public var auth: AuthConfiguration
    public var certificates: CertificatesConfiguration
    public var recording: RecordingConfiguration
    public var sessions: SessionsConfiguration
    public var audit: AuditConfiguration
    public var retention: RetentionConfiguration
    public var siem: SIEMConfiguration
    /// `[chatops]`: webhooks for elevation requests, Slack buttons.
    public var chatops: ChatOpsConfiguration
    /// `[elevation]`: request TTL, approvals required, sudo wait.
    public var elevation: ElevationSettings
    public var log: LogConfiguration
    /// `[backup]`: the recovery key backups are wrapped to, and scheduled restore drills.
    public var backup: BackupConfiguration
    public var policy: Policy

    public init(
        server: ServerConfiguration = .defaults,
        storage: StorageConfiguration = .defaults,
        keys: KeysConfiguration = .defaults,
        ca: CAConfiguration = .defaults,
        ssh: SSHConfiguration = .defaults,
        http: HTTPConfiguration = .defaults,
        auth: AuthConfiguration = .defaults,
        certificates: CertificatesConfiguration = .defaults,
        recording: RecordingConfiguration = .defaults,
        sessions: SessionsConfiguration = .defaults,
        audit: AuditConfiguration = .defaults,
        retention: RetentionConfiguration = .defaults,
        siem: SIEMConfiguration = .defaults,
        chatops: ChatOpsConfiguration = .defaults,
        elevation: ElevationSettings = .defaults,
        log: LogConfiguration = .defaults,
        backup: BackupConfiguration = .defaults,
        policy: Policy = .empty
    ) {
        self.server = server
        self.storage = storage
        self.keys = keys
        self.ca = ca
        self.ssh = ssh
        self.http = http
        self.auth = auth
        self.certificates = certificates
        self.recording = recording
        self.sessions = sessions
        self.audit = audit
        self.retention = retention
        self.siem = siem
        self.chatops = chatops
        self.elevation = elevation
        self.log = log
        self.backup = backup
        self.policy = policy
    }

    /// What an empty file means.
    public static let defaults = BastionConfiguration()

    /// `[server]`
    public struct ServerConfiguration: Sendable, Equatable {
        /// `data_dir`: the SQLite database, keys and master key. Relative paths are relative to
        /// the working directory; the caller resolves them.
        public var dataDirectory: String

        public init(dataDirectory: String) {
            self.dataDirectory = dataDirectory
        }

        public static let defaults = ServerConfiguration(dataDirectory: ".bastion")
    }

    /// `[keys]`
    public struct KeysConfiguration: Sendable, Equatable {
        public enum Provider: String, Sendable, Equatable {
            /// 0600 files in the data directory (the embedded default).
            case file
            /// A PKCS#11 token (an HSM; SoftHSM2 in tests): keys are made and used inside it.
            case pkcs11
        }

        public var provider: Provider
        /// `pkcs11_module`: the module's shared library, e.g. `/usr/lib/softhsm/libsofthsm2.so`.
        public var pkcs11Module: String?
        /// `pkcs11_token`: the token's label.
        public var pkcs11Token: String?
        /// `pkcs11_pin_file`: a 0600 file holding the user PIN.
        public var pkcs11PinFile: String?
        /// `rotate_every`: the master key's age at which the daemon makes the next version.
        public var rotateEvery: TimeInterval
        /// `retire_after`: how long a superseded version stays, decrypt-only, before it is
        /// destroyed (and only once nothing references it).
        public var retireAfter: TimeInterval

        public init(
            provider: Provider = .file, pkcs11Module: String? = nil, pkcs11Token: String? = nil, pkcs11PinFile: String? = nil,
            rotateEvery: TimeInterval = 90 * 86_400, retireAfter: TimeInterval = 365 * 86_400
        ) {
            self.provider = provider
            self.pkcs11Module = pkcs11Module
            self.pkcs11Token = pkcs11Token
            self.pkcs11PinFile = pkcs11PinFile
            self.rotateEvery = rotateEvery
            self.retireAfter = retireAfter
        }

        public static let defaults = KeysConfiguration()
    }

    /// `[ca]`
    public struct CAConfiguration: Sendable, Equatable {
        /// `overlap`: after `ca rotate`, how long both keys are published before the next one signs.
        public var overlap: TimeInterval

        public init(overlap: TimeInterval = 86_400) {
            self.overlap = overlap
        }

        public static let defaults = CAConfiguration()
    }

    /// `[storage]`
    public struct StorageConfiguration: Sendable, Equatable {
        /// `url`: nil for the embedded SQLite database in `server.data_dir`; a `postgres://`
        /// URL (libpq syntax) for a PostgreSQL database shared by every node.
        public var url: String?
        /// `node`: this node's name in the shared database (its live sessions and delivery
        /// leases are kept under it). Defaults to the host name.
        public var node: String
        /// `node_timeout`: how long a node may miss its heartbeats before another node ends its
        /// sessions and closes their recordings.
        public var nodeTimeout: TimeInterval

        public init(url: String? = nil, node: String = StorageConfiguration.hostName, nodeTimeout: TimeInterval = 30) {
            self.url = url
            self.node = node
            self.nodeTimeout = nodeTimeout
        }

        public static let defaults = StorageConfiguration()

        /// `url` with any password replaced by `***`, for logs and messages.
        public var redactedURL: String? {
            guard let url else { return nil }
            guard let scheme = url.firstRange(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@") else { return url }
            let credentials = url[scheme.upperBound..<at]
            guard let colon = credentials.firstIndex(of: ":") else { return url }
            return String(url[..<url.index(after: colon)]) + "***" + String(url[at...])
        }

        public static var hostName: String {
            ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "bastion"
        }
    }

    /// `[ssh]`
    public struct SSHConfiguration: Sendable, Equatable {
        /// `listen`: where engineers' `ssh` connects.
        public var listen: ListenAddress
        /// `login_grace_time`: how long a connection may take to finish authenticating.
        public var loginGraceTime: TimeInterval
        /// `max_startups`, `per_source_max_startups`: unauthenticated connections only.
        public var admission: AdmissionSettings = .defaults
        /// `penalties`, `penalty_exempt`.
        public var penalties: PenaltyBox.Settings = .defaults
        /// `kex_algorithms`, `ciphers`, `macs`: offered on the front door and to targets.
        public var algorithms: SSHAlgorithms = .defaults
        /// `trusted_proxies`: load balancers that must send a PROXY v2 header (none by default).
        public var trustedProxies: CIDRList?
        /// `public_address`: `HOST:PORT` engineers' `ssh` reaches the front door at (what
        /// `ssh-config` writes in `ProxyJump`). Unset: the host of `http.public_url` with the
        /// port of `listen`.
        public var publicAddress: ListenAddress?
        /// Lines to print once at start: deprecated keys still read, values ignored.
        public var notices: [String] = []

        public init(listen: ListenAddress, loginGraceTime: TimeInterval) {
            self.listen = listen
            self.loginGraceTime = loginGraceTime
        }

        public static let defaults = SSHConfiguration(listen: ListenAddress(host: "127.0.0.1", port: 2222), loginGraceTime: 60)
    }

    /// `[http]`
    public struct HTTPConfiguration: Sendable, Equatable {
        /// `listen`: health, metrics, approval pages.
        public var listen: ListenAddress
        /// `public_url`: how people reach the HTTP side; used in links sent to chat.
        public var publicURL: String
        /// `assets_dir`: the web view's static files: `player-page.js` (committed) and
        /// `vendor/` (asciinema-player, fetched by `Scripts/fetch-web-assets`, never committed).
        /// Relative to the working directory.
        public var assetsDirectory: String
        /// `trusted_proxies`: addresses (CIDRs) whose `Forwarded`/`X-Forwarded-For` names the
        /// client in audit records; from anyone else those headers are ignored. Default none.
        public var trustedProxies: CIDRList?
        /// `tls_cert`, `tls_key`, `tls_min`, `client_ca`: TLS on the listener; nil is plain
        /// HTTP (tests, or a reverse proxy in front that terminates TLS).
        public var tls: TLSFiles?

        /// TLS on the HTTP listener: PEM files re-read on SIGHUP.
        public struct TLSFiles: Sendable, Equatable {
            /// `tls_cert`: the server certificate, then its intermediates.
            public var certificate: String
            /// `tls_key`: its private key, unencrypted PEM.
            public var key: String
            /// `tls_min`: 1.3 (default), or 1.2 for legacy clients; never lower.
            public var minimumVersion: TLSProtocolVersion
            /// `client_ca`: a PEM bundle; when set, a client certificate is asked for
            /// (optional) and the targets' sudo check requires one naming the target.
            public var clientCA: String?

            public init(certificate: String, key: String, minimumVersion: TLSProtocolVersion = .tls13, clientCA: String? = nil) {
                self.certificate = certificate
                self.key = key
                self.minimumVersion = minimumVersion
                self.clientCA = clientCA
            }
        }

        public init(listen: ListenAddress, publicURL: String, assetsDirectory: String = "Web") {
            self.listen = listen
            self.publicURL = publicURL
            self.assetsDirectory = assetsDirectory
        }

        public static let defaults = HTTPConfiguration(
            listen: ListenAddress(host: "127.0.0.1", port: 8080),
            publicURL: "http://127.0.0.1:8080",
            assetsDirectory: "Web"
        )
    }

    /// `[auth]`
    public struct AuthConfiguration: Sendable, Equatable {
        /// `totp_skew_steps`: 0 or 1 (RFC 6238 §5.2 recommends at most one step either way).
        public var totpSkewSteps: Int
        /// `max_failures`: consecutive wrong TOTP codes before the user is locked out, 1...100.
        public var maxFailures: Int
        /// `lockout`: how long a lockout lasts.
        public var lockout: TimeInterval

        public init(totpSkewSteps: Int, maxFailures: Int, lockout: TimeInterval) {
            self.totpSkewSteps = totpSkewSteps
            self.maxFailures = maxFailures
            self.lockout = lockout
        }

        public static let defaults = AuthConfiguration(totpSkewSteps: 1, maxFailures: 5, lockout: 15 * 60)
    }

    /// `[certificates]`
    public struct CertificatesConfiguration: Sendable, Equatable {
        /// `default_ttl`: the lifetime of a user certificate when the user asks for none, and the
        /// cap of a role that sets no `max_cert_ttl`. At most 24 hours.
        public var defaultTTL: TimeInterval
        /// `source_address`: bind each certificate to the client's address (the OpenSSH critical
        /// option `source-address`), so a copied certificate is useless elsewhere.
        public var bindSourceAddress: Bool

        public init(defaultTTL: TimeInterval, bindSourceAddress: Bool) {
            self.defaultTTL = defaultTTL
            self.bindSourceAddress = bindSourceAddress
        }

        public static let defaults = CertificatesConfiguration(defaultTTL: 4 * 3_600, bindSourceAddress: false)
    }

    /// `[recording]`
    public struct RecordingConfiguration: Sendable, Equatable {
        /// `dir`: where session recordings (asciicast v2) are written.
        public var directory: String
        /// `capture_input`: also record what users type (off: echo-off passwords would land in it).
        public var captureInput: Bool
        /// `on_failure`: `reject` | `terminate` | `continue` when a recording cannot be written.
        public var onFailure: SessionSettings.RecordingFailurePolicy
        /// `encrypt`: each recording sealed under its own data key, wrapped by the master key
        /// (docs/keys.md). Plaintext recordings made before stay readable.
        public var encrypt: Bool
        /// `capture_streams`: channels without a terminal also keep their stdin, stdout and
        /// stderr byte for byte in `<id>.streams` beside the `.cast` (sealed like it).
        public var captureStreams = false

        public init(
            directory: String, captureInput: Bool = false, onFailure: SessionSettings.RecordingFailurePolicy = .reject, encrypt: Bool = true
        ) {
            self.directory = directory
            self.captureInput = captureInput
            self.onFailure = onFailure
            self.encrypt = encrypt
        }

        public static let defaults = RecordingConfiguration(directory: "Recordings")
    }

    /// `[sessions]`
    public struct SessionsConfiguration: Sendable, Equatable {
        /// `idle_timeout`: a relayed session with no traffic either way for this long is closed.
        public var idleTimeout: TimeInterval
        /// `notify_watchers`: the user sees a line when someone starts watching their session.
        public var notifyWatchers: Bool

        public init(idleTimeout: TimeInterval, notifyWatchers: Bool = true) {
            self.idleTimeout = idleTimeout
            self.notifyWatchers = notifyWatchers
        }

        public static let defaults = SessionsConfiguration(idleTimeout: 30 * 60)
    }

    /// `[audit]`
    public struct AuditConfiguration: Sendable, Equatable {
        /// `checkpoint_every`: sign a checkpoint after this many records.
        public var checkpointEvery: Int
        /// `checkpoint_interval`: and at least this often while records arrive.
        public var checkpointInterval: TimeInterval

        public init(checkpointEvery: Int, checkpointInterval: TimeInterval) {
            self.checkpointEvery = checkpointEvery
            self.checkpointInterval = checkpointInterval
        }

        public static let defaults = AuditConfiguration(checkpointEvery: 1_000, checkpointInterval: 5 * 60)
    }

    /// `[retention]`: never below seven years (``RetentionPeriod/floor``).
    public struct RetentionConfiguration: Sendable, Equatable {
        /// `audit`: how long audit records are kept.
        public var audit: RetentionPeriod
        /// `recordings`: how long session recordings are kept.
        public var recordings: RetentionPeriod

        public init(audit: RetentionPeriod = .floor, recordings: RetentionPeriod = .floor) {
            self.audit = audit
            self.recordings = recordings
        }

        public static let defaults = RetentionConfiguration()
    }

    /// `[backup]` (docs/operations.md "Backups and restore drills").
    public struct BackupConfiguration: Sendable, Equatable {
        /// `recovery_key`: every backup's keys are also wrapped to this X25519 public key, whose
        /// private half stays offline; without it the `file` provider's key files are left out.
        public var recoveryKey: RecoveryKey.PublicKey?
        /// `dir`: where `backup create` puts backups by default and scheduled drills look.
        public var directory: String?
        /// `drill_every`: the daemon drills the newest backup in `dir` this often; off when nil.
        public var drillEvery: TimeInterval?

        public init(recoveryKey: RecoveryKey.PublicKey? = nil, directory: String? = nil, drillEvery: TimeInterval? = nil) {
            self.recoveryKey = recoveryKey
            self.directory = directory
            self.drillEvery = drillEvery
        }

        public static let defaults = BackupConfiguration()
    }

    /// `[log]`
    public struct LogConfiguration: Sendable, Equatable {
        /// `level`: one of `levels` (swift-log's names).
        public var level: String

        public init(level: String) {
            self.level = level
        }

        /// The accepted levels, most verbose first.
        public static let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]

        public static let defaults = LogConfiguration(level: "info")
    }
}
