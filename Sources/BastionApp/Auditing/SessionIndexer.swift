public import BastionCore
import Foundation

/// Keeps the session catalog up to date with the audit log: every `session.end` record
/// becomes a catalog entry with the text its recording printed. The audit log is the record;
/// the catalog can always be rebuilt from it, and it never holds anything the log does not.
///
/// Runs every couple of seconds in the daemon, and before each search (so a session that just
/// ended is found at once). Safe to run from several threads: adding an entry twice keeps one.
public struct SessionIndexer: Sendable {
    private let auditLog: any AuditLogStore
    private let catalog: any SessionCatalog
    /// Opens sealed recordings for their text; the text goes into the catalog, in the
    /// database (docs/keys.md says so: search needs it, and it is what auditors search).
    private let keys: RecordingKeys?
    /// Turns the text into keyed tokens, so the catalog holds no word a session printed.
    private let words: BlindWords?

    public init(auditLog: any AuditLogStore, catalog: any SessionCatalog, keys: RecordingKeys? = nil, words: BlindWords? = nil) {
        self.auditLog = auditLog
        self.catalog = catalog
        self.keys = keys
        self.words = words
    }

    /// Indexes the sessions that ended since the last run, in one catalog transaction;
    /// returns how many.
    @discardableResult
    public func catchUp() throws -> Int {
        let from = try catalog.indexedThrough()
        let records = try auditLog.search(AuditQuery(type: AuditEventType.sessionEnd.name, fromSeq: from + 1, limit: 500))
        guard let last = records.last else { return 0 }
        var entries: [SessionCatalogEntry] = []
        for record in records {
            guard let ended = Self.session(from: record) else { continue }
            let session = ended.session
            // A missing or unreadable recording still gets its entry (found by user, target,
            // time); its text is simply not searchable.
            var printed = session.recording.flatMap { try? CastText.extract(from: $0, keys: keys) } ?? ""
            // The files it moved are found too: `sessions --grep passwd`. A session that
            // counted none in its `session.end` is not searched for them.
            if ended.fileOperations != 0 {
                let files = (try? Self.fileOperations(of: session.id, in: auditLog)) ?? []
                if !files.isEmpty { printed += "\n" + SessionFileOperation.searchText(files) }
            }
            let text = words.map { $0.tokens(of: printed) } ?? printed
            entries.append(SessionCatalogEntry(session, text: text))
        }
        try catalog.add(entries, indexedThrough: last.seq)
        return entries.count
    }

    /// The `file.*` records of `session`, oldest first (at most 10,000).
    static func fileOperations(of session: SessionID, in auditLog: any AuditLogStore) throws -> [SessionFileOperation] {
        try auditLog.search(AuditQuery(type: "file.*", session: session.rawValue, limit: 10_000)).compactMap(SessionFileOperation.init(record:))
    }

    /// The catalog entry a `session.end` record describes, and the number of `file.*`
    /// records it counted (nil in records written before the count, which may have some).
    static func session(from record: AuditStoredRecord) -> (session: IndexedSession, fileOperations: Int?)? {
        guard let event = try? AuditEvent(canonicalJSON: Array(record.json.utf8)), let id = event.details[.sessionID] else { return nil }
        let details = event.details
        let duration = Double(details[.duration] ?? "") ?? 0
        let exit = details[.exitStatus] ?? details[.exitSignal].map { "signal \($0)" }
        let recording = details[.recording].flatMap { $0 == "none" ? nil : $0 }
        let session = IndexedSession(
            id: SessionID(rawValue: id), user: event.actor?.user ?? "", login: details[.login] ?? event.session?.login ?? "", target: event.target ?? "",
            sourceAddress: event.connection?.remoteAddress ?? "", startedAt: event.time.addingTimeInterval(-duration), duration: duration,
            exitStatus: exit, endReason: details[.endReason] ?? "", recording: recording,
            recordingSize: Int(details[.recordingSize] ?? "") ?? 0, recordingSHA256: details[.recordingSHA256],
            elevationRequest: details[.elevationRequest], auditSeq: record.seq
        )
        return (session, details[.fileOperations].flatMap { Int($0) })
    }
}
