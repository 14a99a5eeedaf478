import BastionCore
import BastionCrypto
import Foundation
import TOMLKit

/// One parse function per section of the file, in the order of the reference
/// (docs/configuration.md); each refuses unknown keys first, then reads values.
extension BastionConfiguration {
    /// `[server]`.
    static func parseServer(_ server: TOMLTableReader, into configuration: inout BastionConfiguration) throws(ConfigurationError) {
        try server.refuseUnknownKeys(allowed: ["data_dir"])
        configuration.server.dataDirectory = try server.nonEmptyString("data_dir", default: ServerConfiguration.defaults.dataDirectory)
    }

    /// `[storage]`.
    static func parseStorage(_ storage: TOMLTableReader, into configuration: inout BastionConfiguration) throws(ConfigurationError) {
        try storage.refuseUnknownKeys(allowed: ["url", "node", "node_timeout"])
        if storage.table["url"] != nil {
            let url = try storage.nonEmptyString("url", default: "")
            guard url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") else {
                throw storage.error("url", "must be a postgres:// URL (leave it out for the embedded SQLite database)")
            }
            configuration.storage.url = url
        }
        configuration.storage.node = try storage.nonEmptyString("node", default: StorageConfiguration.defaults.node)
        guard configuration.storage.node.allSatisfy({ $0.isLetter || $0.isNumber || "-_.".contains($0) }), configuration.storage.node.count <= 64 else {
            throw storage.error("node", "must be at most 64 letters, digits, '-', '_' or '.'")
        }
        configuration.storage.nodeTimeout = try storage.duration(
            "node_timeout", default: StorageConfiguration.defaults.nodeTimeout, maximum: 600
        )
        guard configuration.storage.nodeTimeout >= 3 else { throw storage.error("node_timeout", "must be at least 3s") }
    }

    /// `[keys]`.
    static func parseKeys(_ keys: TOMLTableReader, into configuration: inout BastionConfiguration) throws(ConfigurationError) {
        try keys.refuseUnknownKeys(allowed: ["provider", "pkcs11_module", "pkcs11_token", "pkcs11_pin_file", "rotate_every", "retire_after"])
        configuration.keys.rotateEvery = try keys.duration("rotate_every", default: KeysConfiguration.defaults.rotateEvery, maximum: 5 * 365 * 86_400)
        configuration.keys.retireAfter = try keys.duration("retire_after", default: KeysConfiguration.defaults.retireAfter, maximum: 10 * 365 * 86_400)
        guard configuration.keys.rotateEvery >= 3_600 else { throw keys.error("rotate_every", "must be at least 1h") }
        let name = try keys.string("provider", default: KeysConfiguration.Provider.file.rawValue)
        guard let provider = KeysConfiguration.Provider(rawValue: name) else {
            throw keys.error("provider", "must be file or pkcs11, not \"\(name)\"")
        }
        configuration.keys.provider = provider
        let settings = ["pkcs11_module", "pkcs11_token", "pkcs11_pin_file"]
        guard provider == .pkcs11 else {
            if let present = settings.first(where: { keys.table[$0] != nil }) {
                throw keys.error(present, "applies only with provider = \"pkcs11\"")
            }
            return
        }
        for key in settings where keys.table[key] == nil {
            throw keys.error(key, "is required with provider = \"pkcs11\"")
        }
        configuration.keys.pkcs11Module = try keys.nonEmptyString("pkcs11_module", default: "")
        configuration.keys.pkcs11Token = try keys.nonEmptyString("pkcs11_token", default: "")
        configuration.keys.pkcs11PinFile = try keys.nonEmptyString("pkcs11_pin_file", default: "")
    }

    /// `[ssh]`.
    static func parseSSH(_ ssh: TOMLTableReader, into configuration: inout BastionConfiguration) throws(ConfigurationError) {
        try ssh.refuseUnknownKeys(allowed: [
            "listen", "login_grace_time", "max_startups", "per_source_max_startups", "penalties", "penalty_exempt",
            "max_connections_per_source", "kex_algorithms", "ciphers", "macs", "trusted_proxies", "public_address",
        ])
        configuration.ssh.listen = try ssh.listenAddress("listen", default: SSHConfiguration.defaults.listen)
        configuration.ssh.loginGraceTime = try ssh.duration(
            "login_grace_time",
            default: SSHConfiguration.defaults.loginGraceTime,
            maximum: Limits.loginGraceTime
        )
        try ssh.admission(into: &configuration.ssh)
        configuration.ssh.trustedProxies = try ssh.cidrList("trusted_proxies")
        configuration.ssh.algorithms = try ssh.algorithms()
        if ssh.table["public_address"] != nil {
            configuration.ssh.publicAddress = try ssh.listenAddress("public_address", default: SSHConfiguration.defaults.listen, allowingPortZero: false)
        }
    }

    /// `[http]`.
    static func parseHTTP(_ http: TOMLTableReader, into configuration: inout BastionConfiguration) throws(ConfigurationError) {
        try http.refuseUnknownKeys(allowed: ["listen", "public_url", "assets_dir", "trusted_proxies", "tls_cert", "tls_key", "tls_min", "client_ca"])
        configuration.http.listen = try http.listenAddress("listen", default: HTTPConfiguration.defaults.listen)
        configuration.http.publicURL = try http.string("public_url", default: HTTPConfiguration.defaults.publicURL)
        if let reason = publicURLProblem(configuration.http.publicURL) { throw http.error("public_url", reason) }
        configuration.http.assetsDirectory = try http.nonEmptyString("assets_dir", default: HTTPConfiguration.defaults.assetsDirectory)
        configuration.http.trustedProxies = try http.cidrList("trusted_proxies")
        configuration.http.tls = try parseHTTPTLS(http, publicURL: configuration.http.publicURL, behindProxy: configuration.http.trustedProxies != nil)
    }

    /// `tls_cert`, `tls_key`, `tls_min`, `client_ca` of `[http]`, checked against `public_url`:
    /// an `https://` URL needs TLS here unless `trusted_proxies` says a proxy terminates it,
    /// and TLS here needs an `https://` URL (links and the `Secure` cookie follow the URL).
    /// The files themselves are read when bastiond starts (and on SIGHUP), not here.
    static func parseHTTPTLS(_ http: TOMLTableReader, publicURL: String, behindProxy: Bool) throws(ConfigurationError) -> HTTPConfiguration.TLSFiles? {
        let https = publicURL.lowercased().hasPrefix("https://")
        guard http.has("tls_cert") || http.has("tls_key") else {
            for key in ["tls_min", "client_ca"] where http.has(key) {
                throw http.error(key, "needs http.tls_cert and http.tls_key (TLS on this listener)")
            }
            if https && !behindProxy {
                throw http.error(
                    "public_url",
                    "https:// needs http.tls_cert and http.tls_key, or http.trusted_proxies when a reverse proxy in front terminates TLS"
                )
            }
            return nil
        }
        guard http.has("tls_cert") else { throw http.error("tls_key", "needs http.tls_cert") }
        guard http.has("tls_key") else { throw http.error("tls_cert", "needs http.tls_key") }
        guard https else {
            throw http.error("public_url", "must be https:// when http.tls_cert is set (links sent to chat and the session cookie follow it)")
        }
        var files = HTTPConfiguration.TLSFiles(
            certificate: try http.nonEmptyString("tls_cert", default: ""), key: try http.nonEmptyString("tls_key", default: "")
        )
        let minimum = try http.string("tls_min", default: TLSProtocolVersion.tls13.rawValue)
        guard let version = TLSProtocolVersion(rawValue: minimum) else {
            throw http.error("tls_min", "must be \"1.3\" or \"1.2\", not \"\(minimum)\" (TLS 1.0 and 1.1 are never allowed)")
        }
        files.minimumVersion = version
        if http.has("client_ca") { files.clientCA = try http.nonEmptyString("client_ca", default: "") }
        return files
    }

    /// `[auth]`.
    static func parseAuth(_ auth: TOMLTableReader, into configuration: inout BastionConfiguration) throws(ConfigurationError) {
        try auth.refuseUnknownKeys(allowed: ["totp_skew_steps", "max_failures", "lockout"])
        configuration.auth.totpSkewSteps = try auth.int("totp_skew_steps", default: AuthConfiguration.defaults.totpSkewSteps, in: 0...1)
        configuration.auth.maxFailures = try auth.int("max_failures", default: AuthConfiguration.defaults.maxFailures, in: 1...100)
        configuration.auth.lockout = try auth.duration("lockout", default: AuthConfiguration.defaults.lockout)
    }

    /// `[certificates]`.
    static func parseCertificates(_ certificates: TOMLTableReader, into configuration: inout BastionConfiguration) throws(ConfigurationError) {
        try certificates.refuseUnknownKeys(allowed: ["default_ttl", "source_address"])
        configuration.certificates.defaultTTL = try certificates.duration(
            "default_ttl",
            default: CertificatesConfiguration.defaults.defaultTTL,
            maximum: PolicyRules.maximumCertificateTTL
        )
        configuration.certificates.bindSourceAddress = try certificates.bool(
            "source_address",
            default: CertificatesConfiguration.defaults.bindSourceAddress
        )
    }

    /// `[recording]`.
    static func parseRecording(_ recording: TOMLTableReader, into configuration: inout BastionConfiguration) throws(ConfigurationError) {
        try recording.refuseUnknownKeys(allowed: ["dir", "capture_input", "on_failure", "encrypt", "capture_streams"])
        configuration.recording.encrypt = try recording.bool("encrypt", default: RecordingConfiguration.defaults.encrypt)
        configuration.recording.directory = try recording.nonEmptyString("dir", default: RecordingConfiguration.defaults.directory)
        configuration.recording.captureInput = try recording.bool("capture_input", default: false)
        configuration.recording.captureStreams = try recording.bool("capture_streams", default: false)
        let policy = try recording.string("on_failure", default: "reject")
        guard let onFailure = SessionSettings.RecordingFailurePolicy(rawValue: policy) else {
            throw recording.error("on_failure", "must be reject, terminate or continue, not \"\(policy)\"")
        }
        configuration.recording.onFailure = onFailure
    }

    /// `[backup]`.
    static func parseBackup(_ backup: TOMLTableReader, into configuration: inout BastionConfiguration) throws(ConfigurationError) {
        try backup.refuseUnknownKeys(allowed: ["recovery_key", "dir", "drill_every"])
        if backup.has("recovery_key") {
            let text = try backup.nonEmptyString("recovery_key", default: "")
            do {
                configuration.backup.recoveryKey = try RecoveryKey.PublicKey(text: text)
            } catch {
                throw backup.error("recovery_key", error.description)
            }
        }
        if backup.has("dir") { configuration.backup.directory = try backup.nonEmptyString("dir", default: "") }
        if backup.has("drill_every") {
            let every = try backup.duration("drill_every", default: 0)
            guard every >= 60 else { throw backup.error("drill_every", "must be at least 1m") }
            guard configuration.backup.directory != nil else {
                throw backup.error("drill_every", "needs backup.dir: the drills restore the newest backup found there")
            }
            configuration.backup.drillEvery = every
        }
    }

    /// `[sessions]`.
    static func parseSessions(_ sessions: TOMLTableReader, into configuration: inout BastionConfiguration) throws(ConfigurationError) {
        try sessions.refuseUnknownKeys(allowed: ["idle_timeout", "notify_watchers"])
        configuration.sessions.idleTimeout = try sessions.duration("idle_timeout", default: SessionsConfiguration.defaults.idleTimeout)
        configuration.sessions.notifyWatchers = try sessions.bool("notify_watchers", default: SessionsConfiguration.defaults.notifyWatchers)
    }

    /// `[audit]`.
    static func parseAudit(_ audit: TOMLTableReader, into configuration: inout BastionConfiguration) throws(ConfigurationError) {
        try audit.refuseUnknownKeys(allowed: ["checkpoint_every", "checkpoint_interval"])
        configuration.audit.checkpointEvery = try audit.int(
            "checkpoint_every", default: AuditConfiguration.defaults.checkpointEvery, in: 1...1_000_000
        )
        configuration.audit.checkpointInterval = try audit.duration(
            "checkpoint_interval", default: AuditConfiguration.defaults.checkpointInterval, maximum: 86_400
        )
    }

    /// `[retention]`.
    static func parseRetention(_ retention: TOMLTableReader, into configuration: inout BastionConfiguration) throws(ConfigurationError) {
        try retention.refuseUnknownKeys(allowed: ["audit", "recordings"])
        configuration.retention.audit = try retention.retentionPeriod("audit")
        configuration.retention.recordings = try retention.retentionPeriod("recordings")
    }

    /// `[siem]`.
    static func parseSIEMSection(_ siem: TOMLTableReader, into configuration: inout BastionConfiguration) throws(ConfigurationError) {
        configuration.siem = try parseSIEM(siem)
    }

    /// `[chatops]`.
    static func parseChatOpsSection(_ chatops: TOMLTableReader, into configuration: inout BastionConfiguration) throws(ConfigurationError) {
        configuration.chatops = try parseChatOps(chatops)
    }

    /// `[elevation]`.
    static func parseElevation(_ elevation: TOMLTableReader, into configuration: inout BastionConfiguration) throws(ConfigurationError) {
        try elevation.refuseUnknownKeys(allowed: ["request_ttl", "approvals_required", "end_with_session", "sudo_wait"])
        let defaults = ElevationSettings.defaults
        configuration.elevation.requestTTL = try elevation.duration("request_ttl", default: defaults.requestTTL, maximum: 24 * 3_600)
        configuration.elevation.approvalsRequired = try elevation.int("approvals_required", default: defaults.approvalsRequired, in: 1...10)
        configuration.elevation.endWithSession = try elevation.bool("end_with_session", default: defaults.endWithSession)
        configuration.elevation.sudoWait = try elevation.duration("sudo_wait", default: defaults.sudoWait, maximum: 3_600)
    }

    /// `[log]`.
    static func parseLog(_ log: TOMLTableReader, into configuration: inout BastionConfiguration) throws(ConfigurationError) {
        try log.refuseUnknownKeys(allowed: ["level"])
        let level = try log.string("level", default: LogConfiguration.defaults.level)
        guard LogConfiguration.levels.contains(level) else {
            throw log.error("level", "unknown level \"\(level)\" (use \(LogConfiguration.levels.joined(separator: ", ")))")
        }
        configuration.log.level = level
    }

    /// `[roles]`.
    static func parseRoles(_ roles: TOMLTableReader, into configuration: inout BastionConfiguration) throws(ConfigurationError) {
        for name in roles.keysInFileOrder {
            let role = try parseRole(name, in: roles, defaultTTL: configuration.certificates.defaultTTL)
            configuration.policy.roles[name] = role
        }
    }

    /// `[targets]`.
    static func parseTargets(_ targets: TOMLTableReader, into configuration: inout BastionConfiguration) throws(ConfigurationError) {
        for name in targets.keysInFileOrder {
            configuration.policy.targets[name] = try parseTarget(name, in: targets)
        }
    }
}
