import BastionCore
import BastionHTTP
import Hummingbird
import Logging

/// What the HTTP routes beyond `/healthz` and `/metrics` need from the daemon.
struct HTTPRouteContext: Sendable {
    var environment: BastionEnvironment
    var elevation: ElevationService
    var audit: any AuditEmitter
    var logger: Logger
}

/// Adds every feature's routes to the operations router (one line per feature).
enum HTTPRoutes {
    static func register(on router: Router<BastionRequestContext>, context: HTTPRouteContext) {
        ApprovalRoutes.register(on: router, context: context)
        TargetAPIRoutes.register(on: router, context: context)
        SlackActionsRoute.register(on: router, context: context)
        WebRoutes.register(on: router, context: context)
    }
}
