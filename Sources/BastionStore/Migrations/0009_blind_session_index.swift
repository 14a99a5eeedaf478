import GRDB

extension SQLiteMigrations {
    /// 0009_blind_session_index: the catalog's words become keyed tokens (``BlindWords``).
    /// The catalog is an index of the audit log: emptied here, it is rebuilt from `session.end`
    /// records at the next start, with tokens instead of the words sessions printed.
    static func migrateBlindSessionIndex(_ db: Database) throws {
        try db.execute(sql: """
            DELETE FROM session_catalog;
            INSERT INTO session_text(session_text) VALUES ('delete-all');
            UPDATE session_catalog_state SET indexed_seq = 0;
            """)
    }
}
