import Foundation
import Synchronization

/// The open front-door connections, so that shutdown (and later `user lock`) can reach them.
final class ConnectionRegistry: Sendable {
    private let connections = Mutex<[ObjectIdentifier: FrontDoorConnection]>([:])

    func add(_ connection: FrontDoorConnection) {
        connections.withLock { $0[ObjectIdentifier(connection)] = connection }
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
