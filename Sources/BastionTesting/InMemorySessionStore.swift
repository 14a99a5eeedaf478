public import BastionCore
public import Foundation
import Synchronization

/// ``SessionStore`` in memory, for unit tests that need live sessions.
public final class InMemorySessionStore: SessionStore {
    private struct Entry {
        var record: SessionRecord
        var endedAt: Date?
        var killRequested = false
    }

    private let entries = Mutex<[SessionID: Entry]>([:])

    public init() {}

    public func register(_ session: SessionRecord) throws {
        entries.withLock { $0[session.id] = Entry(record: session) }
    }

    public func markEnded(id: SessionID, at date: Date) throws {
        entries.withLock { $0[id]?.endedAt = date }
    }

    public func updateTarget(id: SessionID, target: String) throws {
        entries.withLock { $0[id]?.record.target = target }
    }

    public func liveSessions() throws -> [SessionRecord] {
        entries.withLock { $0.values.filter { $0.endedAt == nil }.map(\.record).sorted { $0.startedAt < $1.startedAt } }
    }

    public func requestKill(id: SessionID) throws -> Bool {
        entries.withLock { entries in
            guard entries[id]?.endedAt == nil, entries[id] != nil else { return false }
            entries[id]?.killRequested = true
            return true
        }
    }

    public func endRequest(id: SessionID) throws -> SessionEndRequest? {
        entries.withLock { entries in
            guard let entry = entries[id] else { return nil }
            if entry.endedAt != nil { return .endedElsewhere }
            return entry.killRequested ? .kill : nil
        }
    }

    public func endAbandoned(at date: Date) throws -> [SessionRecord] {
        entries.withLock { entries in
            let open = entries.values.filter { $0.endedAt == nil }.map(\.record)
            for record in open { entries[record.id]?.endedAt = date }
            return open
        }
    }
}
