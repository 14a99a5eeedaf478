/// Elevation requests and grants, shared by the daemon and the admin CLI (and several
/// nodes) through the database.
public protocol ElevationStore: Sendable {
    /// Throws ``StoreError/conflict`` on a duplicate id.
    func insert(_ request: ElevationRequest) throws
    /// Deletes a request just inserted, when the audit log refused its record (no record,
    /// no request). Never used for anything that was audited.
    func remove(id: ElevationID) throws
    func request(id: ElevationID) throws -> ElevationRequest?
    /// Saves `request` only if the stored copy still has `request.version`; returns false
    /// (nothing written) when someone else changed it first. The stored version becomes
    /// `request.version + 1`.
    func update(_ request: ElevationRequest) throws -> Bool
    /// Requests filed by `requester`, newest first, at most `limit`.
    func requests(of requester: String, limit: Int) throws -> [ElevationRequest]
    /// Requests in `states`, oldest first.
    func requests(in states: [ElevationRequest.State]) throws -> [ElevationRequest]
}
