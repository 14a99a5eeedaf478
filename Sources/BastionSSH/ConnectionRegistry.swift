import BastionCore
import Foundation
import Synchronization

/// The open front-door connections, so that shutdown (and later `user lock`) can reach
/// them, and so that one source cannot hold more than its share.
///
/// Also decides when freed heap memory goes back to the kernel (see ``remove(_:)``).
final class ConnectionRegistry: Sendable {
    private let connections = Mutex<[ObjectIdentifier: FrontDoorConnection]>([:])
    /// The most connections open at once since the heap was last trimmed.
    private let peakSinceTrim = Mutex(0)

    /// Registers the connection unless its source, or the server, is at its limit.
    func admit(_ connection: FrontDoorConnection, perSource: Int, total: Int) -> Bool {
        connections.withLock { connections in
            let address = connection.context.remoteAddress
            guard connections.count < total,
                connections.values.lazy.filter({ $0.context.remoteAddress == address }).count < perSource
            else { return false }
            connections[ObjectIdentifier(connection)] = connection
            let open = connections.count
            peakSinceTrim.withLock { $0 = max($0, open) }
            return true
        }
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
            connections.removeValue(forKey: ObjectIdentifier(connection))
            return connections.count
        }
        return peakSinceTrim.withLock { peak in
            guard peak >= 8, open <= peak / 2 else { return false }
            peak = open
            return true
        }
    }

    var count: Int { connections.withLock { $0.count } }

    func closeAll() {
        for connection in connections.withLock({ Array($0.values) }) { connection.requestClose() }
    }

    func waitUntilEmpty(timeout: TimeInterval) {
        let deadline = Date().addingTimeInterval(timeout)
        while count > 0, Date() < deadline { usleep(20_000) }
    }
}
