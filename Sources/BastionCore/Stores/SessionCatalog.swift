/// The index of ended sessions auditors search (`sessions`, the web list): filled from the
/// `session.end` audit records, with the text each session printed in a full-text index.
public protocol SessionCatalog: Sendable {
    /// Adds `entries` and records that the audit log has been indexed through `seq`, in one
    /// transaction: one commit for a whole catch-up, not one per session. Adding an id twice
    /// keeps the first.
    func add(_ entries: [SessionCatalogEntry], indexedThrough seq: Int64) throws
    /// The audit sequence number indexed through (0 when nothing yet).
    func indexedThrough() throws -> Int64
    /// Moves the indexed-through mark past records that held no session (a batch without one).
    func markIndexed(through seq: Int64) throws
    func session(id: SessionID) throws -> IndexedSession?
    /// Sessions matching `query`, newest first.
    func search(_ query: SessionQuery) throws -> [IndexedSession]
}

/// One ended session for the catalog, with the text it printed.
public struct SessionCatalogEntry: Sendable, Equatable {
    public var session: IndexedSession
    public var text: String

    public init(_ session: IndexedSession, text: String) {
        self.session = session
        self.text = text
    }
}

extension SessionCatalog {
    /// Adds one session, indexed through its own `session.end` record.
    public func add(_ session: IndexedSession, text: String) throws {
        try add([SessionCatalogEntry(session, text: text)], indexedThrough: session.auditSeq)
    }
}
