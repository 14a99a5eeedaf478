import BastionCore
import Foundation
import Synchronization

/// The open front-door connections, so that shutdown (and later `user lock`) can reach
/// them, and so that one source cannot hold more than its share.
final class ConnectionRegistry: Sendable {
    private let connections = Mutex<[ObjectIdentifier: FrontDoorConnection]>([:])

    /// Registers the connection unless its source, or the server, is at its limit.
    func admit(_ connection: FrontDoorConnection, perSource: Int, total: Int) -> Bool {
        connections.withLock { connections in
            let address = connection.context.remoteAddress
            guard connections.count < total,
                connections.values.lazy.filter({ $0.context.remoteAddress == address }).count < perSource
            else { return false }
            connections[ObjectIdentifier(connection)] = connection
            return true
        }
    }

    func remove(_ connection: FrontDoorConnection) {
        _ = connections.withLock { $0.removeValue(forKey: ObjectIdentifier(connection)) }
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
