public import BastionCore
public import BastionCrypto
import BastionStore
public import Foundation

/// What opens a backup: the installation's master key (the HSM with `pkcs11`), which opens
/// the `data` section only, or the offline recovery private key, which opens both.
public enum BackupKeySource: Sendable {
    case masterKeys(MasterKeyring)
    case recovery(RecoveryKey.PrivateKey)
}

/// `bastiond backup restore` (and the first half of a drill): verifies the backup, then
/// decrypts it into an empty data directory and recording directory. Every chunk is
/// authenticated before it is written; on any failure the files written so far are removed.
public enum BackupRestorer {
    public struct Outcome: Sendable {
        public var manifest: BackupManifest
        public var files = 0
        public var bytes = 0
        public var recordings = 0
        /// Secret files the key source could not open (the master key never opens `secrets`).
        public var skipped: [String] = []
    }

    public static func restore(
        backup directory: String, dataDirectory: String, recordingDirectory: String, keys: BackupKeySource, pinned: Ed25519PublicKey?
    ) throws -> Outcome {
        let report = BackupVerifier.verify(directory: directory, pinned: pinned)
        guard let manifest = report.manifest, report.isIntact else {
            throw BackupError("the backup does not verify: " + report.problems.joined(separator: "; "))
        }
        try refuseNonEmpty(dataDirectory)
        if !isInside(recordingDirectory, dataDirectory) { try refuseNonEmpty(recordingDirectory) }
        let (dataKey, secretsKey) = try sectionKeys(manifest, keys)
        var outcome = Outcome(manifest: manifest)
        var written: [String] = []
        do {
            for directory in [dataDirectory, recordingDirectory] {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            for entry in manifest.files {
                let key: SymmetricKey
                if entry.section == BackupManifest.Section.secrets {
                    guard let secretsKey else {
                        outcome.skipped.append(entry.path)
                        continue
                    }
                    key = secretsKey
                } else {
                    key = dataKey
                }
                let destination = try destination(of: entry.path, dataDirectory: dataDirectory, recordingDirectory: recordingDirectory)
                let root = entry.path.hasPrefix("recordings/") ? recordingDirectory : dataDirectory
                try BackupWriter.makeParents(of: destination, under: root)
                let fd = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw BackupError("\(destination): cannot create: \(String(cString: strerror(errno)))") }
                written.append(destination)
                defer { close(fd) }
                try BackupFileCipher.open(source: directory + "/" + entry.path + BackupManifest.encryptedSuffix, key: key, path: entry.path) { chunk in
                    try BackupFileCipher.writeAll(fd, chunk, path: destination)
                    outcome.bytes += chunk.count
                }
                guard fsync(fd) == 0 else { throw BackupError("\(destination): cannot sync: \(String(cString: strerror(errno)))") }
                outcome.files += 1
                if entry.path.hasPrefix("recordings/"), entry.path.hasSuffix(".cast") { outcome.recordings += 1 }
            }
        } catch {
            for path in written { unlink(path) }
            throw error
        }
        return outcome
    }

    /// Appends `backup.restore` to the restored database's audit log, chained and sealed by
    /// `signer`, which must be the audit key that signed the backup (another key's
    /// checkpoints would not verify). Returns false when no such key was at hand.
    public static func recordRestore(
        _ outcome: Outcome, dataDirectory: String, signer: (any Ed25519Signer)?, actor: AuditEvent.Actor, now: Date
    ) throws -> Bool {
        guard outcome.manifest.database == "sqlite", let signer,
              SSHPublicKey(ed25519: signer.publicKey).authorizedKeysLine == outcome.manifest.auditKey
        else { return false }
        let database = try DatabasePoolHandle(path: dataDirectory + "/" + BastionEnvironment.databaseFileName, sealing: .init(key: signer))
        try database.auditLog.append(AuditEvent(
            type: .backupRestore, time: now, actor: actor,
            details: ["backup": outcome.manifest.id, "to": dataDirectory, "files": String(outcome.files)]
        ))
        return true
    }

    static func sectionKeys(_ manifest: BackupManifest, _ keys: BackupKeySource) throws -> (data: SymmetricKey, secrets: SymmetricKey?) {
        let dataContext = manifest.wrapContext(section: BackupManifest.Section.data)
        switch keys {
        case .masterKeys(let keyring):
            guard let wrap = manifest.keys[BackupManifest.Section.data]?.master, let wrapped = Data(base64Encoded: wrap.key) else {
                throw BackupError("the backup's data key is not wrapped by a master key")
            }
            do {
                return (try keyring.unwrap(Array(wrapped), version: wrap.version, context: Array(dataContext.utf8)), nil)
            } catch {
                throw BackupError("this installation's master key (v\(wrap.version)) does not open the backup: \(error); use --recovery-key")
            }
        case .recovery(let key):
            guard let recovery = manifest.recovery, let ephemeral = Data(base64Encoded: recovery.ephemeral) else {
                throw BackupError("the backup was made without a backup.recovery_key: restore it with the master key (the installation's keys)")
            }
            guard recovery.fingerprint == key.publicKey.fingerprint else {
                throw BackupError("the backup is wrapped to recovery key \(recovery.fingerprint), not \(key.publicKey.fingerprint)")
            }
            func open(_ section: String) throws -> SymmetricKey? {
                guard let text = manifest.keys[section]?.recovery else { return nil }
                guard let wrapped = Data(base64Encoded: text) else { throw BackupError("\(BackupManifest.fileName): keys.\(section) is not base64") }
                return try RecoveryKey.unwrap(Array(wrapped), with: key, ephemeralPublicKey: Array(ephemeral), context: manifest.wrapContext(section: section))
            }
            guard let data = try open(BackupManifest.Section.data) else { throw BackupError("the backup's data key is not wrapped to the recovery key") }
            return (data, try open(BackupManifest.Section.secrets))
        }
    }

    static func destination(of path: String, dataDirectory: String, recordingDirectory: String) throws -> String {
        guard BackupManifest.isSafe(path), let slash = path.firstIndex(of: "/") else { throw BackupError("unsafe path \(path)") }
        let rest = String(path[path.index(after: slash)...])
        switch path[..<slash] {
        case "recordings": return recordingDirectory + "/" + rest
        case "database", "data", "keys":
            guard !rest.contains("/") else { throw BackupError("unsafe path \(path)") }
            return dataDirectory + "/" + rest
        default: throw BackupError("unsafe path \(path)")
        }
    }

    static func refuseNonEmpty(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else { throw BackupError("\(directory) is not a directory") }
        guard ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? ["?"]).isEmpty else {
            throw BackupError("\(directory) is not empty: restore only into an empty directory (move the old one aside first)")
        }
    }

    static func isInside(_ path: String, _ directory: String) -> Bool {
        let a = URL(fileURLWithPath: path).standardizedFileURL.path, b = URL(fileURLWithPath: directory).standardizedFileURL.path
        return a == b || a.hasPrefix(b.hasSuffix("/") ? b : b + "/")
    }
}
