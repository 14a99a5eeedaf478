import BastionCore
import Foundation
import Synchronization

/// The open front-door connections, so that shutdown can reach them and admission can push
/// out a stalled handshake by its ticket.
///
/// Also decides when freed heap memory goes back to the kernel (see ``remove(_:)``).
final class ConnectionRegistry: Sendable {
    private let connections = Mutex<[Int: FrontDoorConnection]>([:])
    /// Authenticated connections: user and order of authentication, for `max_connections`.
    private let authenticated = Mutex<(next: Int, byTicket: [Int: (user: String, order: Int)])>((0, [:]))
    /// The most connections open at once since the heap was last trimmed.
    private let peakSinceTrim = Mutex(0)

    func register(_ connection: FrontDoorConnection) {
        let open = connections.withLock { connections in
            connections[connection.ticket] = connection
            return connections.count
        }
        peakSinceTrim.withLock { $0 = max($0, open) }
    }

    /// Records that `connection` authenticated as `user`.
    func authenticated(_ connection: FrontDoorConnection, as user: String) {
        authenticated.withLock { state in
            state.next += 1
            state.byTicket[connection.ticket] = (user, state.next)
        }
    }

    /// The connection's place among its user's authenticated connections, oldest first (1 is
    /// the oldest).
    func rank(of connection: FrontDoorConnection) -> Int {
        authenticated.withLock { state in
            guard let mine = state.byTicket[connection.ticket] else { return 1 }
            return state.byTicket.values.count { $0.user == mine.user && $0.order < mine.order } + 1
        }
    }

    /// Ends the handshake of `ticket` now (admission made room for another source).
    func evict(ticket: Int) {
        connections.withLock { $0[ticket] }?.evict()
    }

    /// Forgets a connection that ended; returns true when the caller should give freed heap
    /// memory back to the kernel (`malloc_trim`) now.
    ///
    /// Each connection runs on its own thread, and glibc serves threads from up to 8 arenas
    /// per core; what a burst of sessions freed stays in those arenas (tens of MiB after a
    /// few hundred sessions) unless trimmed. Trimming walks every arena, so it is done only
    /// when the open connections have fallen to half the peak since the last trim.
    func remove(_ connection: FrontDoorConnection) -> Bool {
        let open = connections.withLock { connections in
            connections.removeValue(forKey: connection.ticket)
            return connections.count
        }
        _ = authenticated.withLock { $0.byTicket.removeValue(forKey: connection.ticket) }
        return peakSinceTrim.withLock { peak in
            guard peak >= 8, open <= peak / 2 else { return false }
            peak = open
            return true
        }
    }

    var count: Int { connections.withLock { $0.count } }

    /// Asks every connection to end: authenticated ones through their own close sequence
    /// (users are told), handshakes at once.
    func closeAll() {
        for connection in connections.withLock({ Array($0.values) }) {
            connection.requestClose()
            if !connection.isAuthenticated { connection.evict() }
        }
    }

    func waitUntilEmpty(timeout: TimeInterval) {
        let deadline = Date().addingTimeInterval(timeout)
        while count > 0, Date() < deadline { usleep(20_000) }
    }
}
