public import BastionCore
public import Hummingbird
public import Logging

/// What the routes beyond `/healthz` and `/metrics` are built from: Core services, store
/// protocols and a few settings. BastionApp fills it from the running daemon's environment.
public struct HTTPRouteContext: Sendable {
    public var elevation: ElevationService
    public var audit: any AuditEmitter
    public var clock: any WallClock
    public var logger: Logger
    /// The target sudo API's check (`POST /api/v1/targets/:target/sudo`).
    public var sudoCheck: SudoCheck
    /// The auditors' web view: sign-in and sessions, and the recordings it serves.
    public var webSessions: WebSessions
    public var archive: any SessionArchive
    /// `http.assets_dir`.
    public var assetsDirectory: String
    /// The SSH port and host the sign-in help page tells auditors to use.
    public var sshPort: Int
    public var publicHost: String
    /// Slack's interactive buttons, when `[chatops.slack] interactive = true`; nil: no route.
    public var slackActions: SlackActionHandler?
    /// `http.client_ca` is set: the sudo check requires a verified client certificate naming
    /// the target.
    public var requireClientCertificate: Bool
    /// The live sessions the web view lists and streams (`/live/ID`); nil: none.
    public var broadcasts: LiveSessionBroadcasts?

    public init(
        elevation: ElevationService, audit: any AuditEmitter, clock: any WallClock, logger: Logger, sudoCheck: SudoCheck,
        webSessions: WebSessions, archive: any SessionArchive, assetsDirectory: String, sshPort: Int, publicHost: String,
        slackActions: SlackActionHandler?, requireClientCertificate: Bool = false, broadcasts: LiveSessionBroadcasts? = nil
    ) {
        self.broadcasts = broadcasts
        self.requireClientCertificate = requireClientCertificate
        self.elevation = elevation
        self.audit = audit
        self.clock = clock
        self.logger = logger
        self.sudoCheck = sudoCheck
        self.webSessions = webSessions
        self.archive = archive
        self.assetsDirectory = assetsDirectory
        self.sshPort = sshPort
        self.publicHost = publicHost
        self.slackActions = slackActions
    }
}

/// Adds every feature's routes to the operations router (one line per feature).
public enum HTTPRoutes {
    public static func register(on router: Router<BastionRequestContext>, context: HTTPRouteContext) {
        ApprovalRoutes.register(on: router, context: context)
        TargetAPIRoutes.register(on: router, context: context)
        SlackActionsRoute.register(on: router, context: context)
        WebRoutes.register(on: router, context: context)
    }
}
