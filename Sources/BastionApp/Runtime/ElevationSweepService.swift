import BastionCore
import Logging
import ServiceLifecycle

/// Expires undecided elevation requests and ends grants whose time is up, once a second, so
/// that `elevation.expired` / `elevation.ended` reach the audit log (and chat and SIEM) when
/// they happen rather than when someone next looks. Checks never depend on it: a grant past
/// its end is refused by the time comparison itself.
struct ElevationSweepService: Service {
    let elevation: ElevationService
    let logger: Logger

    func run() async throws {
        while true {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            } catch {
                return
            }
            for request in elevation.sweepDue() {
                logger.info("elevation \(request.state.rawValue)", metadata: ["request": "\(request.id)", "user": "\(request.requester)"])
            }
        }
    }
}
