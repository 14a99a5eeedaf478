import NIOPosix
import ServiceLifecycle
import UnixSignals

/// Runs a configuration reload for each SIGHUP (`systemctl reload bastiond`,
/// `ExecReload=/bin/kill -HUP $MAINPID`), off the cooperative pool: it reads a file and
/// appends an audit record.
struct ReloadSignalService: Service {
    let reloader: ConfigurationReloader

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        let reloader = reloader
        await cancelWhenGracefulShutdown {
            for await _ in hangups {
                _ = try? await NIOThreadPool.singleton.runIfActive { reloader.reload() }
            }
        }
    }
}
