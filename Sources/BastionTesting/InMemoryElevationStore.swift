public import BastionCore
import Synchronization

/// ``ElevationStore`` in memory, for unit tests of the elevation rules (the SQLite store
/// has its own tests); same compare-and-swap on `version`.
public final class InMemoryElevationStore: ElevationStore {
    private let records = Mutex<[ElevationID: ElevationRequest]>([:])

    public init() {}

    public func insert(_ request: ElevationRequest) throws {
        try records.withLock { records in
            guard records[request.id] == nil else { throw StoreError(.conflict, "duplicate request id") }
            records[request.id] = request
        }
    }

    public func remove(id: ElevationID) throws {
        _ = records.withLock { $0.removeValue(forKey: id) }
    }

    public func request(id: ElevationID) throws -> ElevationRequest? { records.withLock { $0[id] } }

    public func update(_ request: ElevationRequest) throws -> Bool {
        records.withLock { records in
            guard let stored = records[request.id], stored.version == request.version else { return false }
            var saved = request
            saved.version += 1
            records[request.id] = saved
            return true
        }
    }

    public func requests(of requester: String, limit: Int) throws -> [ElevationRequest] {
        records.withLock { Array($0.values.filter { $0.requester == requester }.sorted { $0.createdAt > $1.createdAt }.prefix(limit)) }
    }

    public func requests(in states: [ElevationRequest.State]) throws -> [ElevationRequest] {
        records.withLock { $0.values.filter { states.contains($0.state) }.sorted { $0.createdAt < $1.createdAt } }
    }
}
