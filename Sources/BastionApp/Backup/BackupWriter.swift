public import BastionCore
import BastionCrypto
import BastionStore
public import Foundation

/// `bastiond backup create`: an encrypted, signed copy of an installation, made while the
/// daemon runs.
///
/// Order matters for consistency: the database first (SQLite's online backup API, one
/// snapshot), then the recordings. A session that ended before the snapshot therefore has its
/// finished recording in the backup; one still running has a partial recording and no
/// `session.end`, which a restored daemon closes as interrupted, as after a crash.
///
/// Two section keys, fresh per backup: `data` (database, recordings, non-secret files such
/// as `*.pub` or the token's sealed derive key) is wrapped by the master key and, when
/// `backup.recovery_key` is set, to the recovery key; `secrets` (the `file` provider's private
/// key files and the host key) only to the recovery key, or left out without one.
public struct BackupWriter: Sendable {
    public struct Summary: Sendable {
        public var directory: String
        public var manifest: BackupManifest
        public var bytes: Int
        public var recordings: Int
        public var warnings: [String]
    }

    private let environment: BastionEnvironment

    public init(environment: BastionEnvironment) {
        self.environment = environment
    }

    /// Files of the data directory that are private keys: never in the master-key section.
    static func isSecret(_ name: String) -> Bool {
        [KeyMaterial.FileName.hostKey, KeyMaterial.FileName.userAuthority, KeyMaterial.FileName.upstreamAuthority,
         KeyMaterial.FileName.auditKey].contains(name) || name.hasSuffix(".key")
    }

    /// Files of the data directory that are the database (copied by the snapshot instead).
    static func isDatabase(_ name: String) -> Bool {
        name.hasPrefix(BastionEnvironment.databaseFileName)
    }

    public func create(into directory: String, now: Date) throws -> Summary {
        let configuration = environment.configuration
        let dataDirectory = configuration.server.dataDirectory
        for (inside, what) in [(configuration.recording.directory, "recording"), (dataDirectory, "data")]
        where BackupRestorer.isInside(directory, inside) {
            throw BackupError("\(directory) is inside the \(what) directory \(inside): put backups elsewhere")
        }
        try Self.createEmptyDirectory(directory)
        let id = RandomID.hex(bytes: 16)
        let dataKey = SymmetricKey.random()
        let recovery = configuration.backup.recoveryKey
        let secretsKey = recovery.map { _ in SymmetricKey.random() }
        var entries: [BackupManifest.Entry] = []
        var warnings: [String] = []
        var excluded: [String] = []
        var bytes = 0

        func add(source: String, path: String, section: String) throws {
            let key = section == BackupManifest.Section.secrets ? secretsKey! : dataKey
            let destination = directory + "/" + path + BackupManifest.encryptedSuffix
            try Self.makeParents(of: destination, under: directory)
            let sealed = try BackupFileCipher.seal(source: source, destination: destination, key: key, path: path)
            entries.append(.init(path: path, section: section, size: sealed.size, sha256: sealed.sha256, plainSize: sealed.plainSize))
            bytes += sealed.size
        }

        // 1. The database, as one snapshot (SQLite only; PostgreSQL is the operator's pg_dump).
        var tail: BastionDatabase.SnapshotTail?
        if configuration.storage.url == nil {
            let snapshot = dataDirectory + "/.backup-snapshot-" + id + ".sqlite"
            defer { try? FileManager.default.removeItem(atPath: snapshot) }
            do {
                tail = try BastionDatabase.snapshot(path: dataDirectory + "/" + BastionEnvironment.databaseFileName, to: snapshot)
            } catch {
                throw BackupError("cannot snapshot the database: \(error)")
            }
            try add(source: snapshot, path: "database/" + BastionEnvironment.databaseFileName, section: BackupManifest.Section.data)
        } else {
            warnings.append("the PostgreSQL database is not in this backup: back it up with pg_dump or pg_basebackup (docs/operations.md)")
        }

        // 2. The data directory's own files: keys and key state.
        for name in try Self.regularFiles(in: dataDirectory, recursive: false) where !Self.isDatabase(name) && !name.hasPrefix(".") {
            if Self.isSecret(name) {
                if secretsKey != nil {
                    try add(source: dataDirectory + "/" + name, path: "keys/" + name, section: BackupManifest.Section.secrets)
                } else {
                    excluded.append(name)
                }
            } else {
                try add(source: dataDirectory + "/" + name, path: "data/" + name, section: BackupManifest.Section.data)
            }
        }
        if !excluded.isEmpty {
            warnings.append(
                "no backup.recovery_key: the private key files \(excluded.joined(separator: ", ")) are not in this backup; "
                    + "keep a separate offline copy of them (docs/operations.md)"
            )
        }

        // 3. The recordings (already sealed; encrypted again like every file here).
        var recordings = 0
        let recordingDirectory = configuration.recording.directory
        for relative in try Self.regularFiles(in: recordingDirectory, recursive: true) {
            do {
                try add(source: recordingDirectory + "/" + relative, path: "recordings/" + relative, section: BackupManifest.Section.data)
                if relative.hasSuffix(".cast") { recordings += 1 }
            } catch let error as BackupError where !FileManager.default.fileExists(atPath: recordingDirectory + "/" + relative) {
                // Removed by retention since the listing: it is not in the snapshot's future either.
                warnings.append("skipped \(relative): \(error)")
                try? FileManager.default.removeItem(atPath: directory + "/recordings/" + relative + BackupManifest.encryptedSuffix)
            }
        }

        // 4. The keys of the sections, then the signed manifest.
        var keys: [String: BackupManifest.SectionKey] = [:]
        var recoveryRecord: BackupManifest.Recovery?
        let ephemeral = try X25519PrivateKey()
        var manifest = BackupManifest(
            id: id, created: AuditEvent.timestamp(now), node: configuration.storage.node,
            database: configuration.storage.url == nil ? "sqlite" : "postgresql", keyProvider: configuration.keys.provider.rawValue,
            auditKey: SSHPublicKey(ed25519: environment.keys.auditKey.publicKey).authorizedKeysLine,
            auditKeyFingerprint: SSHPublicKey(ed25519: environment.keys.auditKey.publicKey).fingerprint,
            auditLastSeq: tail?.lastSeq, auditLastHash: tail?.lastHash, dataDirectory: dataDirectory, recordingDirectory: recordingDirectory,
            recovery: nil, keys: [:], excluded: excluded, files: entries
        )
        let master = environment.keys.masterKeys.current
        let dataContext = manifest.wrapContext(section: BackupManifest.Section.data)
        var dataSection = BackupManifest.SectionKey(
            master: .init(version: master.version, key: Data(try master.wrap(dataKey, context: Array(dataContext.utf8))).base64EncodedString()),
            recovery: nil
        )
        if let recovery {
            recoveryRecord = .init(fingerprint: recovery.fingerprint, ephemeral: Data(ephemeral.publicKey).base64EncodedString())
            dataSection.recovery = Data(try RecoveryKey.wrap(dataKey, to: recovery, ephemeral: ephemeral, context: dataContext)).base64EncodedString()
            if let secretsKey {
                let context = manifest.wrapContext(section: BackupManifest.Section.secrets)
                keys[BackupManifest.Section.secrets] = .init(
                    master: nil, recovery: Data(try RecoveryKey.wrap(secretsKey, to: recovery, ephemeral: ephemeral, context: context)).base64EncodedString()
                )
            }
        }
        keys[BackupManifest.Section.data] = dataSection
        manifest.keys = keys
        manifest.recovery = recoveryRecord
        let manifestBytes = try manifest.encoded()
        let signature = try environment.keys.auditKey.signature(for: manifestBytes)
        try Self.writeNew(directory + "/" + BackupManifest.signatureFileName, Array((Data(signature).base64EncodedString() + "\n").utf8))
        // The manifest last: a directory without one is an unfinished backup.
        try Self.writeNew(directory + "/" + BackupManifest.fileName, manifestBytes)
        return Summary(directory: directory, manifest: manifest, bytes: bytes, recordings: recordings, warnings: warnings)
    }

    // MARK: - Files

    /// Creates `directory` 0700, or accepts an existing empty one; refuses anything else.
    static func createEmptyDirectory(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw BackupError("\(directory) is not a directory") }
            guard ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? ["?"]).isEmpty else {
                throw BackupError("\(directory) is not empty: refusing to write into it")
            }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw BackupError("cannot create \(directory): \(error.localizedDescription)")
        }
    }

    static func makeParents(of path: String, under root: String) throws {
        let parent = (path as NSString).deletingLastPathComponent
        guard parent != root else { return }
        do {
            try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw BackupError("cannot create \(parent): \(error.localizedDescription)")
        }
    }

    /// Regular files under `directory` (relative paths, sorted); symbolic links are not followed.
    static func regularFiles(in directory: String, recursive: Bool) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else { return [] }
        let names: [String]
        do {
            names = recursive
                ? try FileManager.default.subpathsOfDirectory(atPath: directory) : try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw BackupError("cannot list \(directory): \(error.localizedDescription)")
        }
        return names.filter { name in
            var status = stat()
            return lstat(directory + "/" + name, &status) == 0 && (status.st_mode & S_IFMT) == S_IFREG
        }.sorted()
    }

    static func writeNew(_ path: String, _ bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BackupError("\(path): cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        try BackupFileCipher.writeAll(fd, bytes, path: path)
        guard fsync(fd) == 0 else { throw BackupError("\(path): cannot sync: \(String(cString: strerror(errno)))") }
    }
}
