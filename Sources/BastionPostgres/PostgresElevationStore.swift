public import BastionCore
import Foundation

/// ``ElevationStore`` on PostgreSQL: a request filed on one node is decided on any other.
///
/// ``update(_:)`` is the same compare-and-swap on `version` as on SQLite; PostgreSQL's row lock
/// makes it hold across nodes: of two approvers deciding at once, one changes the row and the
/// other finds the version moved. Decisions are a JSON array in the row, as on SQLite.
public final class PostgresElevationStore: ElevationStore {
    private let database: PostgresDatabase

    public init(database: PostgresDatabase) {
        self.database = database
    }

    public func insert(_ request: ElevationRequest) throws {
        do {
            try database.run { connection in
                try connection.query(
                    """
                    INSERT INTO elevation_requests (id, requester, target, login, reason, duration, origin, state, created_at, expires_at,
                        approvals_required, decisions, grant_started_at, grant_ends_at, closed_at, close_reason, link_used, version)
                    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
                    """,
                    [
                        request.id.rawValue, request.requester, request.target, request.login, request.reason, request.duration, request.origin,
                        request.state.rawValue, request.createdAt, request.expiresAt, request.approvalsRequired,
                        ElevationDecisionsJSON.encode(request.decisions), request.grantStartedAt, request.grantEndsAt, request.closedAt,
                        request.closeReason, request.linkUsed, request.version,
                    ]
                )
            }
        } catch let error as StoreError where error.code == .conflict {
            throw StoreError(.conflict, "elevation request \(request.id) exists")
        }
    }

    public func remove(id: ElevationID) throws {
        try database.run { connection in try connection.query("DELETE FROM elevation_requests WHERE id = $1", [id.rawValue]) }
    }

    public func request(id: ElevationID) throws -> ElevationRequest? {
        try database.run { connection in
            try connection.query("SELECT * FROM elevation_requests WHERE id = $1", [id.rawValue]).first.map(Self.request(from:))
        }
    }

    public func update(_ request: ElevationRequest) throws -> Bool {
        try database.run { connection in
            try connection.query(
                """
                UPDATE elevation_requests SET state = $1, decisions = $2, grant_started_at = $3, grant_ends_at = $4, closed_at = $5,
                    close_reason = $6, link_used = $7, version = version + 1
                WHERE id = $8 AND version = $9
                """,
                [
                    request.state.rawValue, ElevationDecisionsJSON.encode(request.decisions), request.grantStartedAt, request.grantEndsAt,
                    request.closedAt, request.closeReason, request.linkUsed, request.id.rawValue, request.version,
                ]
            ).changedRows == 1
        }
    }

    public func requests(of requester: String, limit: Int) throws -> [ElevationRequest] {
        try database.run { connection in
            try connection.query(
                "SELECT * FROM elevation_requests WHERE requester = $1 ORDER BY created_at DESC, position DESC LIMIT $2", [requester, limit]
            ).all.map(Self.request(from:))
        }
    }

    public func requests(in states: [ElevationRequest.State]) throws -> [ElevationRequest] {
        guard !states.isEmpty else { return [] }
        return try database.run { connection in
            // One text[] parameter: `{requested,approved}` (state names are plain words).
            try connection.query(
                "SELECT * FROM elevation_requests WHERE state = ANY($1::text[]) ORDER BY created_at, position",
                ["{" + states.map(\.rawValue).joined(separator: ",") + "}"]
            ).all.map(Self.request(from:))
        }
    }

    private static func request(from row: PostgresRow) throws -> ElevationRequest {
        var request = ElevationRequest(
            id: ElevationID(rawValue: try row.text("id")), requester: try row.text("requester"), target: try row.text("target"), login: try row.text("login"),
            reason: try row.text("reason"), duration: try row.double("duration"), origin: try row.text("origin"),
            createdAt: try row.date("created_at"), expiresAt: try row.date("expires_at"), approvalsRequired: try row.int("approvals_required")
        )
        // An unknown state reads as revoked: a grant the code cannot interpret must not work.
        request.restore(
            state: ElevationRequest.State(rawValue: try row.text("state")) ?? .revoked,
            decisions: ElevationDecisionsJSON.decode(try row.text("decisions")),
            grantStartedAt: try row.optionalDate("grant_started_at"), grantEndsAt: try row.optionalDate("grant_ends_at"),
            closedAt: try row.optionalDate("closed_at"), closeReason: try row.optionalText("close_reason")
        )
        request.linkUsed = try row.bool("link_used")
        request.version = try row.int("version")
        return request
    }
}

/// The decisions column's JSON (dates as seconds since 1970), the same text as on SQLite.
enum ElevationDecisionsJSON {
    static func encode(_ decisions: [ElevationRequest.Decision]) -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .secondsSince1970
        return (try? encoder.encode(decisions)).flatMap { String(data: $0, encoding: .utf8) } ?? "[]"
    }

    static func decode(_ text: String) -> [ElevationRequest.Decision] {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .secondsSince1970
        return (try? decoder.decode([ElevationRequest.Decision].self, from: Data(text.utf8))) ?? []
    }
}
