import BastionCore
import Logging
import NIOPosix
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
            // Store reads and audited writes: on the blocking pool, not the cooperative one.
            let swept = (try? await NIOThreadPool.singleton.runIfActive { [elevation] in elevation.sweepDue() }) ?? []
            for request in swept {
                logger.info("elevation \(request.state.rawValue)", metadata: ["request": "\(request.id)", "user": "\(request.requester)"])
            }
        }
    }
}
