import BastionCore
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle

/// Several nodes on one database: this node's heartbeat, and the clean-up after a node that
/// stopped beating (killed -9, host lost). Its sessions ended with it; another node records
/// their end and closes the recordings they left open, instead of leaving both until that
/// node starts again (which may be never).
///
/// Each tick is a few short statements; a database that does not answer fails the tick
/// (logged) and the next one tries again. The daemon goes on either way.
struct ClusterService: Service {
    let sessions: any SessionStore
    let audit: any AuditEmitter
    let recordingDirectory: String
    /// Opens sealed recordings to close them (the node that died held their data keys' use).
    let recordingKeys: RecordingKeys
    /// How long a node may stay silent before its sessions count as ended (`storage.node_timeout`).
    let silence: TimeInterval
    let clock: any WallClock
    let logger: Logger

    /// Three beats per timeout: one lost beat is no reason to declare a node dead.
    var beat: TimeInterval { silence / 3 }

    func run() async throws {
        while true {
            do {
                // Database round trips and file repairs: on the blocking pool, not the cooperative one.
                try await NIOThreadPool.singleton.runIfActive { try tick() }
            } catch {
                logger.error("cluster heartbeat failed: \(error)")
            }
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(beat)) }
            } catch {
                return
            }
        }
    }

    func tick() throws {
        try sessions.heartbeat()
        let orphaned = try sessions.endSessionsOfSilentNodes(silentFor: silence, at: clock.now())
        guard !orphaned.isEmpty else { return }
        logger.warning("ended the sessions of a silent node", metadata: ["sessions": "\(orphaned.map(\.id))"])
        try InterruptedSessions.recordEnded(
            orphaned, reason: "the node relaying the session stopped answering", audit: audit, clock: clock
        )
        try InterruptedSessions.closeRecordings(in: recordingDirectory, keys: recordingKeys, audit: audit, clock: clock, logger: logger)
    }
}
