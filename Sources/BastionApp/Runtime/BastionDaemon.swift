import BastionCore
import BastionDelivery
import BastionSSH
import BastionHTTP
import Foundation
import NIOPosix
import Hummingbird
public import Logging
public import Prometheus
import ServiceLifecycle
import UnixSignals
import Synchronization

/// The composition root: builds every service from an opened environment and runs them
/// in one `ServiceGroup` (STYLE.md rule 5). The only place that knows every module.
public final class BastionDaemon: Sendable {
    /// Where the daemon ended up listening (ports may have been 0 in the config).
    public struct Endpoints: Sendable {
        public var sshPort: Int
        public var httpPort: Int
    }

    private let environment: BastionEnvironment
    private let registry: PrometheusCollectorRegistry
    private let logger: Logger
    private let configurationDigest: String?
    private let systemd: SystemdNotifier?
    /// The SIEM and chat-ops relays' threads (a reload starts and stops them).
    private let relayPool: RelayPool
    /// Re-reads the configuration file (SIGHUP); nil when the daemon was given no file.
    public let reloader: ConfigurationReloader?
    /// The HTTP listener's TLS (`http.tls_cert`), loaded once here so SIGHUP can reload it;
    /// a file that cannot be used fails ``run(handleSignals:onReady:)`` and ``checkHTTPTLS()``.
    private let httpTLS: Result<TLSServerCredentials?, ConfigurationError>

    /// - Parameters:
    ///   - configurationDigest: SHA-256 of the configuration file; a change since the last
    ///     start is audited as `config.changed`.
    ///   - configurationFile: the file SIGHUP re-reads.
    ///   - logLevel: the level a reload may change.
    ///   - systemd: `$NOTIFY_SOCKET`, when systemd started bastiond (`Type=notify`).
    public init(
        environment: BastionEnvironment, registry: PrometheusCollectorRegistry, logger: Logger, configurationDigest: String? = nil,
        configurationFile: String? = nil, logLevel: LogLevelSwitch? = nil, systemd: SystemdNotifier? = nil
    ) {
        self.environment = environment
        self.registry = registry
        self.logger = logger
        self.configurationDigest = configurationDigest
        self.systemd = systemd
        let pool = RelayPool(logger: logger, onStep: SIEMService.stepCounter(registry: registry, logger: logger))
        relayPool = pool
        let httpTLS = Result { () throws(ConfigurationError) in
            try HTTPTLS.credentials(environment.configuration.http, file: configurationFile)
        }
        self.httpTLS = httpTLS
        reloader = configurationFile.map { file in
            ConfigurationReloader(
                file: file, running: environment.configuration, policy: environment.policy, audit: environment.auditLog,
                clock: environment.clock, logLevel: logLevel, systemd: systemd, logger: logger,
                prepareRelays: { next, plan in
                    // The certificate first: building its context changes nothing, so a bad
                    // file refuses the whole reload before any relay is touched.
                    let swapTLS = try HTTPTLS.prepareReload(try? httpTLS.get(), next: next, plan: plan, file: file)
                    let startRelays = try DeliveryRelays.prepare(next, plan: plan, environment: environment, pool: pool)
                    return {
                        swapTLS()
                        startRelays()
                    }
                }
            )
        }
    }

    /// Throws when the HTTP listener's certificate, key or client CA cannot be used: for
    /// `bastiond serve` to refuse to start (exit 78) before anything runs.
    public func checkHTTPTLS() throws(ConfigurationError) {
        _ = try httpTLS.get()
    }

    /// Runs until SIGTERM/SIGINT (when `handleSignals`) or until the calling task is cancelled.
    public func run(handleSignals: Bool = true, onReady: @escaping @Sendable (Endpoints) -> Void = { _ in }) async throws {
        let configuration = environment.configuration
        let tls = try httpTLS.get()
        let markers = LiveSessionMarkers()
        let audit = MarkingAuditEmitter(wrapping: MetricsAuditEmitter(wrapping: environment.auditLog, registry: registry), markers: markers)
        let clock = environment.clock
        let elevation = environment.elevation(audit: audit)
        let archive = SessionArchiveService(environment: environment)
        // Sinks first: a sink seen for the first time starts at the head of the chain, and
        // everything this start records (recoveries, server.start) should reach it.
        let relays = try DeliveryRelays.make(
            sinks: configuration.siem.sinks, webhooks: configuration.chatops.webhooks, environment: environment
        )
        try InterruptedSessions.recordEnded(
            try environment.sessions.endAbandoned(at: clock.now()), reason: "bastiond stopped while the session ran", audit: audit, clock: clock
        )
        try InterruptedSessions.closeRecordings(
            in: configuration.recording.directory, keys: environment.recordingKeys, audit: audit, clock: clock, logger: logger
        )
        let readiness = Readiness(onReady: announcingReadiness(onReady))
        let boundPort = BoundPort()
        // Shared: `ssh … watch` and the web view's `/live/ID` follow the same sessions.
        let broadcasts = LiveSessionBroadcasts()
        let sshServer = SSHServer(
            configuration: SSHServerConfiguration(
                host: configuration.ssh.listen.host, port: configuration.ssh.listen.port,
                hostKeyPath: environment.keys.hostKeyPath, loginGraceTime: configuration.ssh.loginGraceTime,
                admission: configuration.ssh.admission, penalties: configuration.ssh.penalties, algorithms: configuration.ssh.algorithms,
                trustedProxies: configuration.ssh.trustedProxies
            ),
            services: makeFrontDoorServices(
                audit: audit, markers: markers, elevation: elevation, archive: archive, boundPort: boundPort, broadcasts: broadcasts
            ),
            logger: logger
        )
        configuration.ssh.notices.forEach { logger.warning("\($0)") }
        let http = makeHTTP(
            sshMetrics: SSHMetrics(server: sshServer, registry: registry), elevation: elevation, archive: archive, audit: audit, readiness: readiness,
            tls: tls, broadcasts: broadcasts
        )
        try auditConfigurationChange(audit)
        var startDetails = ["ssh_listen": configuration.ssh.listen.description, "http_listen": configuration.http.listen.description]
        startDetails["config_sha256"] = configurationDigest
        try audit.append(AuditEvent(type: .serverStart, time: clock.now(), actor: .init(user: nil, method: "daemon"), details: startDetails))
        let group = makeServiceGroup(
            [
                SSHService(server: sshServer, onListening: {
                    boundPort.set($0)
                    readiness.set(ssh: $0)
                }), http,
                SIEMService(
                    relays: relays, pool: relayPool, outbox: environment.siemOutbox, audit: audit, alertDepth: configuration.siem.alertDepth,
                    alertAge: configuration.siem.alertAge, registry: registry, clock: clock, logger: logger
                ),
                ElevationSweepService(elevation: elevation, logger: logger), SessionIndexService(archive: archive, logger: logger),
            ],
            audit: audit, handleSignals: handleSignals, sshServer: sshServer
        )
        try await group.run()
        systemd?.send(["STOPPING=1", "STATUS=stopped"])
        try? audit.append(AuditEvent(type: .serverStop, time: clock.now(), actor: .init(user: nil, method: "daemon")))
        do { try environment.auditLog.checkpoint() } catch { logger.error("final audit checkpoint failed: \(error)") }
    }

    /// What every SSH connection is served with: authentication, the commands, sessions.
    private func makeFrontDoorServices(
        audit: some AuditEmitter, markers: LiveSessionMarkers, elevation: ElevationService, archive: SessionArchiveService, boundPort: BoundPort,
        broadcasts: LiveSessionBroadcasts
    ) -> FrontDoorServices {
        let configuration = environment.configuration
        let (clock, logger) = (environment.clock, logger)
        let authenticator = Authenticator(
            users: environment.users, ledger: environment.ledger, audit: audit, sealer: environment.sealer, clock: clock,
            settings: AuthenticationSettings(
                totpSkewSteps: configuration.auth.totpSkewSteps, maxFailures: configuration.auth.maxFailures,
                lockout: configuration.auth.lockout
            ),
            userAuthorities: environment.keys.userAuthorityKeys.trust,
            reportFailure: { logger.error("\($0)") }
        )
        let issuer = CertificateIssuer(
            authority: CertificateAuthority(keys: environment.keys.userAuthorityKeys, clock: clock), ledger: environment.ledger, audit: audit,
            policy: environment.policy,
            settings: .init(defaultTTL: configuration.certificates.defaultTTL, bindSourceAddress: configuration.certificates.bindSourceAddress),
            clock: clock
        )
        var sessionSettings = SessionSettings(
            recordingDirectory: configuration.recording.directory, captureInput: configuration.recording.captureInput,
            onRecordingFailure: configuration.recording.onFailure, idleTimeout: configuration.sessions.idleTimeout,
            notifyWatchers: configuration.sessions.notifyWatchers
        )
        sessionSettings.captureStreams = configuration.recording.captureStreams
        let sessions = SessionServices(
            upstreamAuthority: CertificateAuthority(keys: environment.keys.upstreamAuthorityKeys, clock: clock),
            settings: sessionSettings,
            users: environment.users, registry: environment.sessions, policy: environment.policy, elevation: elevation,
            markers: markers, afterTheFact: AfterTheFactQueue { [logger] label, error in
                logger.error("could not record \(label) yet; retrying", metadata: ["error": "\(error)"])
            },
            recordingKeys: environment.recordingKeys, broadcasts: broadcasts
        )
        return FrontDoorServices(
            authenticator: authenticator, commands: CommandRouter(
                issuer: issuer, policy: environment.policy, audit: audit, clock: clock, elevation: elevation, archive: archive,
                webSignIn: WebSessions(environment: environment, audit: audit), broadcasts: broadcasts,
                jump: { [address = configuration.sshPublicAddress, hostKey = environment.keys.hostPublicKey] in
                    JumpConfig(host: address.host, port: address.port == 0 ? boundPort.value : address.port, hostKey: hostKey)
                }
            ),
            audit: audit, clock: clock, sessions: sessions
        )
    }

    /// The HTTP side: health, metrics and every route, on `http.listen`.
    private func makeHTTP(
        sshMetrics: SSHMetrics, elevation: ElevationService, archive: SessionArchiveService, audit: some AuditEmitter, readiness: Readiness,
        tls: TLSServerCredentials?, broadcasts: LiveSessionBroadcasts
    ) -> some Service {
        let configuration = environment.configuration
        let router = OperationsRouter.make(
            registry: registry, trustedProxies: configuration.http.trustedProxies, refresh: sshMetrics.refresh
        ) { [environment] in
            sshMetrics.refresh()
            // A database round trip (or, with PostgreSQL unreachable, up to its connect timeout)
            // belongs on the blocking pool: load balancers ask every second.
            return (try? await NIOThreadPool.singleton.runIfActive { environment.databaseCheck() }) ?? false
        }
        HTTPRoutes.register(
            on: router, context: HTTPRouteContext(
                environment: environment, elevation: elevation, archive: archive, audit: audit, logger: logger, broadcasts: broadcasts
            )
        )
        return Application(
            router: router,
            // Bastion's own OpenSSL TLS (TLSServerChannel), not HummingbirdTLS: see TLSContext.
            server: .http1(tls: tls),
            configuration: .init(address: .hostname(configuration.http.listen.host, port: configuration.http.listen.port), serverName: "bastiond"),
            onServerRunning: { channel in readiness.set(http: channel.localAddress?.port ?? configuration.http.listen.port) },
            logger: logger
        )
    }

    /// `services` (SSH and HTTP first), audit maintenance, and on PostgreSQL the cluster
    /// heartbeat, in one group.
    private func makeServiceGroup(_ services: [any Service], audit: some AuditEmitter, handleSignals: Bool, sshServer: SSHServer) -> ServiceGroup {
        let (environment, configuration, clock, logger) = (environment, environment.configuration, environment.clock, logger)
        var all = services
        // After SSH and HTTP, as ever: the group stops services in reverse order.
        // One node owns the master key's schedule: with several nodes the operator rotates (docs/keys.md).
        var keyMaintenance: (@Sendable () throws -> Void)?
        if configuration.storage.url == nil {
            keyMaintenance = {
                try MasterKeyRotation(environment: environment, actor: .init(user: nil, method: "daemon")).maintain()
                try CARotation(environment: environment, actor: .init(user: nil, method: "daemon")).promote()
            }
        }
        all.insert(AuditMaintenanceService(
            auditLog: environment.auditLog, checkpointInterval: configuration.audit.checkpointInterval,
            retention: { try RetentionRun(environment: environment, actor: .init(user: nil, method: "daemon")).run() },
            keys: keyMaintenance,
            clock: clock, logger: logger
        ), at: min(2, all.count))
        if let every = configuration.backup.drillEvery, let directory = configuration.backup.directory {
            all.append(BackupDrillService(environment: environment, directory: directory, interval: every, logger: logger))
        }
        if handleSignals, let reloader { all.append(ReloadSignalService(reloader: reloader)) }
        if let systemd, let interval = systemd.watchdogInterval {
            all.append(SystemdWatchdog(systemd: systemd, interval: interval, logger: logger) {
                let store = environment.databaseCheck()
                let accepting = sshServer.acceptLoopAlive(within: 10)
                let state = store && accepting ? "ready" : "unhealthy (store \(store ? "answers" : "does not answer"), SSH accept loop \(accepting ? "runs" : "stalled"))"
                return (store && accepting, "\(state); \(sshServer.openConnections) SSH connections open")
            })
        }
        if configuration.storage.url != nil {
            all.append(ClusterService(
                sessions: environment.sessions, audit: audit, recordingDirectory: configuration.recording.directory,
                recordingKeys: environment.recordingKeys, silence: configuration.storage.nodeTimeout, clock: clock, logger: logger
            ))
        }
        return ServiceGroup(configuration: .init(
            services: all.map { .init(service: $0) }, gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [], logger: logger
        ))
    }

    /// `onReady`, and under systemd `READY=1` once the store answers too (it was opened a
    /// moment ago; a database that went away meanwhile delays readiness, not the listeners).
    private func announcingReadiness(_ onReady: @escaping @Sendable (Endpoints) -> Void) -> @Sendable (Endpoints) -> Void {
        guard let systemd else { return onReady }
        let (configuration, check, logger) = (environment.configuration, environment.databaseCheck, logger)
        return { endpoints in
            onReady(endpoints)
            Thread.detachNewThread {
                while !check() {
                    logger.warning("listening, but the store does not answer yet: not ready")
                    sleep(1)
                }
                systemd.send([
                    "READY=1", "MAINPID=\(getpid())",
                    "STATUS=ready: SSH on \(configuration.ssh.listen.host):\(endpoints.sshPort), HTTP on \(configuration.http.listen.host):\(endpoints.httpPort)",
                ])
            }
        }
    }

    /// Audits a configuration file that differs from the one the previous start recorded.
    private func auditConfigurationChange(_ audit: some AuditEmitter) throws {
        guard let configurationDigest,
            let previous = try environment.auditLog.latest(type: AuditEventType.serverStart.name),
            let event = try? AuditEvent(canonicalJSON: Array(previous.json.utf8)),
            let before = event.details[.configSHA256], before != configurationDigest
        else { return }
        try audit.append(AuditEvent(
            type: .configChanged, time: environment.clock.now(), actor: .init(user: nil, method: "daemon"),
            details: ["previous_sha256": before, "config_sha256": configurationDigest]
        ))
    }
}

/// Calls `onReady` once both listeners are up.
private final class Readiness: Sendable {
    private let ports = Mutex<(ssh: Int?, http: Int?)>((nil, nil))
    private let onReady: @Sendable (BastionDaemon.Endpoints) -> Void

    init(onReady: @escaping @Sendable (BastionDaemon.Endpoints) -> Void) {
        self.onReady = onReady
    }

    func set(ssh: Int) { update { $0.ssh = ssh } }
    func set(http: Int) { update { $0.http = http } }

    private func update(_ change: (inout (ssh: Int?, http: Int?)) -> Void) {
        let ready = ports.withLock { ports -> BastionDaemon.Endpoints? in
            let wasReady = ports.ssh != nil && ports.http != nil
            change(&ports)
            guard !wasReady, let ssh = ports.ssh, let http = ports.http else { return nil }
            return .init(sshPort: ssh, httpPort: http)
        }
        if let ready { onReady(ready) }
    }
}
