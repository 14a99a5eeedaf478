public import BastionCore
public import Foundation
import Logging
import NIOPosix
import ServiceLifecycle

/// The ``SessionArchive`` of a running bastion: the SQLite catalog, brought up to date with
/// the audit log before each search, and recordings checked by ``RecordingVerifier``.
public struct SessionArchiveService: SessionArchive {
    private let environment: BastionEnvironment
    private let indexer: SessionIndexer

    public init(environment: BastionEnvironment) {
        self.environment = environment
        self.indexer = SessionIndexer(
            auditLog: environment.auditLog, catalog: environment.sessionCatalog, keys: environment.recordingKeys, words: environment.blindWords
        )
    }

    /// Searches the catalog; the words of a `grep` are turned into the catalog's keyed tokens.
    public func search(_ query: SessionQuery) throws -> [IndexedSession] {
        try catchUp()
        var blind = query
        if let grep = query.grep {
            let tokens = environment.blindWords.query(grep)
            // Words with no letter or digit match nothing rather than everything.
            blind.grep = tokens.isEmpty ? "0" : tokens
        }
        return try environment.sessionCatalog.search(blind)
    }

    public func session(id: SessionID) throws -> IndexedSession? {
        try catchUp()
        return try environment.sessionCatalog.session(id: id)
    }

    public func verify(_ session: IndexedSession) -> RecordingVerdict {
        RecordingVerifier(environment: environment).check(session)
    }

    /// The recording's bytes, checked as read (see ``RecordingVerifier/readVerified(_:)``).
    public func readVerified(_ session: IndexedSession) -> Result<Data, RecordingRefusal> {
        RecordingVerifier(environment: environment).readVerified(session)
    }

    public var recordingKeys: RecordingKeys? { environment.recordingKeys }

    public func fileOperations(of session: SessionID) throws -> [SessionFileOperation] {
        try SessionIndexer.fileOperations(of: session, in: environment.auditLog)
    }

    /// Indexes every session that ended since the last call.
    public func catchUp() throws {
        while try indexer.catchUp() > 0 {}
    }
}

/// Indexes ended sessions every couple of seconds, so searches rarely have work to do.
struct SessionIndexService: Service {
    let archive: SessionArchiveService
    let logger: Logger

    func run() async throws {
        while true {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(2)) }
            } catch {
                return
            }
            // Reads recordings and the database: on the blocking pool, not the cooperative one.
            do { try await NIOThreadPool.singleton.runIfActive { [archive] in try archive.catchUp() } } catch {
                logger.error("session index: \(error)")
            }
        }
    }
}
