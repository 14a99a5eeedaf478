import Foundation

/// `manifest.json` of a backup: what it holds, how its keys are wrapped, and each encrypted
/// file's size and SHA-256. `manifest.sig` is the audit key's Ed25519 signature over these
/// exact bytes (base64), so `backup verify` needs no secret, and a file added, removed,
/// altered or cut short shows against a manifest nobody without the audit key can rewrite.
///
/// File names and sizes are in the clear (so verification needs no key); every file's
/// contents are encrypted (``BackupFileCipher``).
public struct BackupManifest: Codable, Sendable, Equatable {
    public static let currentFormat = "bastion-backup/1"
    public static let fileName = "manifest.json"
    public static let signatureFileName = "manifest.sig"
    /// What each encrypted file's name ends with in the backup directory.
    public static let encryptedSuffix = ".enc"

    /// A 32-byte key wrapped by the master key (the HSM's, with `pkcs11`).
    public struct MasterWrap: Codable, Sendable, Equatable {
        public var version: UInt32
        public var key: String
        public init(version: UInt32, key: String) {
            self.version = version
            self.key = key
        }
    }

    /// The key of one section, wrapped by the master key and/or to the recovery key.
    public struct SectionKey: Codable, Sendable, Equatable {
        public var master: MasterWrap?
        public var recovery: String?
        public init(master: MasterWrap?, recovery: String?) {
            self.master = master
            self.recovery = recovery
        }
    }

    /// The recovery key the backup was wrapped to, and the backup's ephemeral X25519 public key.
    public struct Recovery: Codable, Sendable, Equatable {
        public var fingerprint: String
        public var ephemeral: String
        public init(fingerprint: String, ephemeral: String) {
            self.fingerprint = fingerprint
            self.ephemeral = ephemeral
        }
    }

    /// One encrypted file: `path` + ``encryptedSuffix`` in the backup directory.
    public struct Entry: Codable, Sendable, Equatable {
        /// `database/…`, `data/…`, `keys/…` or `recordings/YYYY/MM/DD/…`.
        public var path: String
        /// ``Section/data`` or ``Section/secrets``.
        public var section: String
        /// The encrypted file's size and SHA-256 (hex).
        public var size: Int
        public var sha256: String
        public var plainSize: Int

        public init(path: String, section: String, size: Int, sha256: String, plainSize: Int) {
            self.path = path
            self.section = section
            self.size = size
            self.sha256 = sha256
            self.plainSize = plainSize
        }

        enum CodingKeys: String, CodingKey {
            case path, section, size, sha256
            case plainSize = "plain_size"
        }
    }

    /// The two sections: `data` (database, recordings, non-secret files) opens with the master
    /// key or the recovery key; `secrets` (private key files of the `file` provider, the host
    /// key) only with the recovery key, because a master key cannot usefully wrap itself.
    public enum Section {
        public static let data = "data"
        public static let secrets = "secrets"
    }

    public var format: String
    public var id: String
    public var created: String
    public var node: String
    /// `sqlite`, or `postgresql` (the database is then not in the backup: docs/operations.md).
    public var database: String
    public var keyProvider: String
    /// `ssh-ed25519 …` and its fingerprint: the key that signed this manifest.
    public var auditKey: String
    public var auditKeyFingerprint: String
    /// The snapshot's newest audit record: a restored log must end exactly there.
    public var auditLastSeq: Int64?
    public var auditLastHash: String?
    /// Where the installation kept its data and recordings: `session.end` records name
    /// recordings by absolute path under `recordingDirectory`.
    public var dataDirectory: String
    public var recordingDirectory: String
    public var recovery: Recovery?
    public var keys: [String: SectionKey]
    /// Secret files that exist but are not in the backup (no recovery key configured).
    public var excluded: [String]
    public var files: [Entry]

    enum CodingKeys: String, CodingKey {
        case format, id, created, node, database, recovery, keys, excluded, files
        case keyProvider = "key_provider"
        case auditKey = "audit_key"
        case auditKeyFingerprint = "audit_key_fingerprint"
        case auditLastSeq = "audit_last_seq"
        case auditLastHash = "audit_last_hash"
        case dataDirectory = "data_directory"
        case recordingDirectory = "recording_directory"
    }

    public init(
        id: String, created: String, node: String, database: String, keyProvider: String, auditKey: String, auditKeyFingerprint: String,
        auditLastSeq: Int64?, auditLastHash: String?, dataDirectory: String, recordingDirectory: String, recovery: Recovery?,
        keys: [String: SectionKey], excluded: [String], files: [Entry]
    ) {
        format = Self.currentFormat
        self.id = id
        self.created = created
        self.node = node
        self.database = database
        self.keyProvider = keyProvider
        self.auditKey = auditKey
        self.auditKeyFingerprint = auditKeyFingerprint
        self.auditLastSeq = auditLastSeq
        self.auditLastHash = auditLastHash
        self.dataDirectory = dataDirectory
        self.recordingDirectory = recordingDirectory
        self.recovery = recovery
        self.keys = keys
        self.excluded = excluded
        self.files = files
    }

    /// The bytes that are signed: sorted keys, so the same manifest always encodes alike.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return Array(try encoder.encode(self)) + [UInt8(ascii: "\n")]
    }

    public static func decode(_ bytes: [UInt8]) throws(BackupError) -> BackupManifest {
        let manifest: BackupManifest
        do { manifest = try JSONDecoder().decode(BackupManifest.self, from: Data(bytes)) } catch {
            throw BackupError("\(fileName): not a backup manifest (\(error))")
        }
        guard manifest.format == currentFormat else {
            throw BackupError("\(fileName): format \"\(manifest.format)\" is not \(currentFormat)")
        }
        for entry in manifest.files {
            guard isSafe(entry.path) else { throw BackupError("\(fileName): unsafe file path \"\(entry.path)\"") }
            guard entry.section == Section.data || entry.section == Section.secrets else {
                throw BackupError("\(fileName): \(entry.path): unknown section \"\(entry.section)\"")
            }
        }
        guard Set(manifest.files.map(\.path)).count == manifest.files.count else {
            throw BackupError("\(fileName): a file is listed twice")
        }
        return manifest
    }

    /// A relative path under one of the four top folders, without `..`, `.` or empty parts,
    /// so a manifest can never make a restore write outside its target.
    public static func isSafe(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 2, ["database", "data", "keys", "recordings"].contains(String(parts[0])) else { return false }
        return parts.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." && !$0.contains("\0") }
    }

    /// The context bound into a section key's wraps: the backup and the section, so a wrapped
    /// key cannot be moved to another backup or section.
    public func wrapContext(section: String) -> String { "bastion/backup/v1/\(id)/\(section)" }
}
