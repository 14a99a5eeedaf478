import BastionCore
import Foundation

extension SessionChannel {
    /// Makes the session just opened watchable (`watch ID`): its relay offers its output to a
    /// ``SessionBroadcast`` found by id.
    func registerBroadcast(_ relay: SessionRelay, user: String) {
        guard let broadcasts = services.sessions.broadcasts, let session = live else { return }
        let broadcast = SessionBroadcast(info: SessionBroadcast.Info(
            id: session.id, user: user, login: session.login, target: session.target, grantID: session.grantID, startedAt: session.startedAt
        ))
        if let terminal { broadcast.resize(.init(columns: Int(terminal.columns), rows: Int(terminal.rows))) }
        relay.broadcast = broadcast
        broadcasts.register(broadcast)
    }

    /// Carries out what watchers asked, on the session's own thread (libssh is not shared):
    /// the line telling the user who watches (`sessions.notify_watchers`), and a termination.
    func obeyWatchers(_ requests: SessionBroadcast.Requests, session: inout LiveSession, now: Date) {
        guard !session.relay.isFinished else { return }
        for watcher in requests.watchersJoined {
            _ = session.relay.recorder?.offerMarker("watched by \(watcher)")
            if services.sessions.settings.notifyWatchers { session.relay.tell("this session is being watched by \(watcher)") }
        }
        if let termination = requests.termination {
            session.endReason = "terminated by \(termination.by): \(termination.reason)"
            session.relay.terminate(message: "session terminated by \(termination.by): \(termination.reason)", now: now)
        }
    }
}
