/// The index of ended sessions auditors search (`sessions`, the web list): filled from the
/// `session.end` audit records, with the text each session printed in a full-text index.
public protocol SessionCatalog: Sendable {
    /// Adds `session` and its printed `text`, and records that the audit log has been indexed
    /// through `session.auditSeq`, in one transaction. Adding an id twice keeps the first.
    func add(_ session: IndexedSession, text: String) throws
    /// The audit sequence number indexed through (0 when nothing yet).
    func indexedThrough() throws -> Int64
    /// Moves the indexed-through mark past records that held no session (a batch without one).
    func markIndexed(through seq: Int64) throws
    func session(id: SessionID) throws -> IndexedSession?
    /// Sessions matching `query`, newest first.
    func search(_ query: SessionQuery) throws -> [IndexedSession]
}
