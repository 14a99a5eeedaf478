extension PostgresMigrations {
    /// 0006_blind_session_index: the catalog's words become keyed tokens (``BlindWords``); the
    /// catalog, an index of the audit log, is emptied and rebuilt with tokens at the next start.
    static let blindSessionIndex = Migration(id: "0006_blind_session_index", sql: """
        DELETE FROM session_catalog;
        UPDATE session_catalog_state SET indexed_seq = 0;
        """)
}
