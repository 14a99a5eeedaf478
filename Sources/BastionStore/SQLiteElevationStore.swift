public import BastionCore
public import GRDB
import Foundation

/// ``ElevationStore`` on SQLite. Decisions are kept as a JSON array in the row: they are
/// read and written with their request, never queried on their own.
public final class SQLiteElevationStore: ElevationStore {
    private let database: any DatabaseWriter

    public init(database: any DatabaseWriter) {
        self.database = database
    }

    public func insert(_ request: ElevationRequest) throws {
        try database.storeWrite { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM elevation_requests WHERE id = ?", arguments: [request.id.rawValue]) != nil {
                throw StoreError(.conflict, "elevation request \(request.id) exists")
            }
            try db.execute(sql: """
                INSERT INTO elevation_requests (id, requester, target, login, reason, duration, origin, state, created_at, expires_at,
                    approvals_required, decisions, grant_started_at, grant_ends_at, closed_at, close_reason, link_used, version)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: Self.arguments(request))
        }
    }

    public func remove(id: ElevationID) throws {
        try database.storeWrite { db in try db.execute(sql: "DELETE FROM elevation_requests WHERE id = ?", arguments: [id.rawValue]) }
    }

    public func request(id: ElevationID) throws -> ElevationRequest? {
        try database.storeRead { db in
            try Row.fetchOne(db, sql: "SELECT * FROM elevation_requests WHERE id = ?", arguments: [id.rawValue]).map(Self.request(from:))
        }
    }

    public func update(_ request: ElevationRequest) throws -> Bool {
        try database.storeWrite { db in
            try db.execute(sql: """
                UPDATE elevation_requests SET state = ?, decisions = ?, grant_started_at = ?, grant_ends_at = ?, closed_at = ?,
                    close_reason = ?, link_used = ?, version = version + 1
                WHERE id = ? AND version = ?
                """, arguments: [
                    request.state.rawValue, Self.encode(request.decisions), request.grantStartedAt?.timeIntervalSince1970,
                    request.grantEndsAt?.timeIntervalSince1970, request.closedAt?.timeIntervalSince1970, request.closeReason,
                    request.linkUsed, request.id.rawValue, request.version,
                ])
            return db.changesCount == 1
        }
    }

    public func requests(of requester: String, limit: Int) throws -> [ElevationRequest] {
        try database.storeRead { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM elevation_requests WHERE requester = ? ORDER BY created_at DESC, rowid DESC LIMIT ?",
                arguments: [requester, limit]
            ).map(Self.request(from:))
        }
    }

    public func requests(in states: [ElevationRequest.State]) throws -> [ElevationRequest] {
        guard !states.isEmpty else { return [] }
        let marks = Array(repeating: "?", count: states.count).joined(separator: ",")
        return try database.storeRead { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM elevation_requests WHERE state IN (\(marks)) ORDER BY created_at, rowid",
                arguments: StatementArguments(states.map(\.rawValue))
            ).map(Self.request(from:))
        }
    }

    private static func arguments(_ request: ElevationRequest) -> StatementArguments {
        [
            request.id.rawValue, request.requester, request.target, request.login, request.reason, request.duration, request.origin,
            request.state.rawValue, request.createdAt.timeIntervalSince1970, request.expiresAt.timeIntervalSince1970,
            request.approvalsRequired, encode(request.decisions), request.grantStartedAt?.timeIntervalSince1970,
            request.grantEndsAt?.timeIntervalSince1970, request.closedAt?.timeIntervalSince1970, request.closeReason, request.linkUsed,
            request.version,
        ]
    }

    private static func encode(_ decisions: [ElevationRequest.Decision]) -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        return (try? encoder.encode(decisions)).flatMap { String(data: $0, encoding: .utf8) } ?? "[]"
    }

    private static func request(from row: Row) -> ElevationRequest {
        var request = ElevationRequest(
            id: ElevationID(rawValue: row["id"]), requester: row["requester"], target: row["target"], login: row["login"], reason: row["reason"],
            duration: row["duration"], origin: row["origin"], createdAt: Date(timeIntervalSince1970: row["created_at"]),
            expiresAt: Date(timeIntervalSince1970: row["expires_at"]), approvalsRequired: row["approvals_required"]
        )
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        let text: String = row["decisions"]
        request.restore(
            state: ElevationRequest.State(rawValue: row["state"]) ?? .revoked,
            decisions: (try? decoder.decode([ElevationRequest.Decision].self, from: Data(text.utf8))) ?? [],
            grantStartedAt: (row["grant_started_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            grantEndsAt: (row["grant_ends_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            closedAt: (row["closed_at"] as Double?).map(Date.init(timeIntervalSince1970:)),
            closeReason: row["close_reason"]
        )
        request.linkUsed = row["link_used"]
        request.version = row["version"]
        return request
    }
}
