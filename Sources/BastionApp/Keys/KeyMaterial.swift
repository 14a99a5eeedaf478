public import BastionCore
public import BastionCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Bastion's own keys (DESIGN.md "Three keys of our own", plus the host key and the master
/// key), from the provider `[keys]` names: 0600 files generated at first start under the data
/// directory (`file`), or keys that live in a PKCS#11 token and are used there (`pkcs11`,
/// ``TokenKeys``).
///
/// Every file is created 0600 in a 0700 directory; an existing file readable by group
/// or others is refused, because a CA or master key that others can read is a key that
/// others may hold (the same rule as OpenSSH's "UNPROTECTED PRIVATE KEY FILE").
public struct KeyMaterial: Sendable {
    /// File names inside the data directory (documented in the README).
    public enum FileName {
        public static let hostKey = "ssh_host_ed25519_key"
        public static let userAuthority = "user_ca"
        public static let upstreamAuthority = "upstream_ca"
        public static let auditKey = "audit_key"
        public static let masterKey = "master.key"
    }

    /// The SSH host key stays a file with either provider: libssh reads it from a path.
    public var hostKeyPath: String
    public var hostKey: Ed25519PrivateKey
    /// Signs engineers' certificates; trusted only by Bastion.
    public var userAuthority: any Ed25519Signer { userAuthorityKeys.signer(at: Date()) }
    /// Signs per-session certificates toward targets; trusted only by targets.
    public var upstreamAuthority: any Ed25519Signer { upstreamAuthorityKeys.signer(at: Date()) }
    /// The user CA across a rotation (two keys during the overlap).
    public var userAuthorityKeys: AuthorityKeys
    /// The upstream CA across a rotation.
    public var upstreamAuthorityKeys: AuthorityKeys
    /// Where the CAs' generations are made and destroyed.
    var caKeyVault: any CAKeyVault
    /// Signs audit checkpoints.
    public var auditKey: any Ed25519Signer
    /// Wraps the data keys of recordings and sealed secrets, and derives link and token keys.
    public var sealer: SecretSealer
    /// The master key versions that wrap and unwrap data keys.
    public var masterKeys: MasterKeyring
    /// Where the master key's versions are made and destroyed (the provider's side of rotation).
    var masterKeyVault: any MasterKeyVault
    /// The root of the derived keys (links, target tokens): survives every rotation.
    var derivationRoot: [UInt8]
    /// Which provider holds the keys, for messages and `keys list`.
    public var provider: BastionConfiguration.KeysConfiguration.Provider

    /// The keys of `configuration`'s provider. `created` receives the name of each key made now.
    public static func load(_ configuration: BastionConfiguration, created: (String) -> Void = { _ in }) throws -> KeyMaterial {
        let directory = configuration.server.dataDirectory
        switch configuration.keys.provider {
        case .file:
            return try loadOrCreate(in: directory, created: created)
        case .pkcs11:
            try ensureDirectory(directory)
            let hostKeyPath = directory + "/" + FileName.hostKey
            let hostKey = try signingKey(at: hostKeyPath, comment: "bastion host key", created: created)
            return try TokenKeys.open(configuration.keys, dataDirectory: directory, hostKeyPath: hostKeyPath, hostKey: hostKey)
        }
    }

    /// The `file` provider: loads every key, creating the missing ones. `created` receives the
    /// path of each new file.
    public static func loadOrCreate(in directory: String, created: (String) -> Void = { _ in }) throws -> KeyMaterial {
        try ensureDirectory(directory)
        let hostKeyPath = directory + "/" + FileName.hostKey
        let vault = FileMasterKeyVault(directory: directory)
        let masterPath = directory + "/" + FileName.masterKey
        // Version 1 is master.key, made at first start; never made again once destroyed.
        let scheduled = FileManager.default.fileExists(atPath: directory + "/" + MasterKeyScheduleFile.name)
        var first: SymmetricKey?
        if !scheduled || FileManager.default.fileExists(atPath: masterPath) {
            first = try masterKey(at: masterPath, created: created)
        }
        let made = (try? FileManager.default.attributesOfItem(atPath: masterPath))?[.creationDate] as? Date
        let schedule = try MasterKeyScheduleFile.load(directory: directory, firstCreated: made ?? Date())
        let keyring = try keyring(schedule, vault: vault)
        let root = try derivationRoot(in: directory, keyring: keyring)?.bytes ?? first?.bytes
        guard let root else {
            throw KeyMaterialError(path: directory + "/" + TokenKeys.derivationRootFile, reason: "missing, and master key version 1 is gone")
        }
        let firstUsable = schedule.usable.contains { $0.version == 1 } ? first : nil
        let sealer = SecretSealer(keyring: keyring, derivationRoot: root, legacyKey: firstUsable)
        let caVault = FileCAKeyVault(directory: directory)
        let caState = try CAKeyState.load(directory: directory)
        for authority in CAAuthority.allCases where caState[authority].generation == 1 {
            // Generation 1 is made at first start (and reported), as it always was.
            _ = try signingKey(at: caVault.location(of: authority, generation: 1), comment: authority.comment, created: created)
        }
        return KeyMaterial(
            hostKeyPath: hostKeyPath,
            hostKey: try signingKey(at: hostKeyPath, comment: "bastion host key", created: created),
            userAuthorityKeys: try caState.keys(.user, vault: caVault),
            upstreamAuthorityKeys: try caState.keys(.upstream, vault: caVault),
            caKeyVault: caVault,
            auditKey: try AuditKeyFiles.currentFileKey(in: directory, created: created),
            sealer: sealer,
            masterKeys: keyring,
            masterKeyVault: vault,
            derivationRoot: root,
            provider: .file
        )
    }

    /// The keyring of `schedule`'s usable versions, loading any other version on demand (one
    /// another process made after this one started).
    static func keyring(_ schedule: MasterKeySchedule, vault: any MasterKeyVault) throws -> MasterKeyring {
        let current = try vault.load(version: schedule.current.version)
        let retired = try schedule.usable.filter { $0.version != current.version }.map { try vault.load(version: $0.version) }
        return MasterKeyring(current: current, retired: retired) { try vault.load(version: $0) }
    }

    /// The wrapped root of the derived keys, if there is one (pkcs11 always; file after the
    /// first rotation, which wraps master.key's bytes so that links and tokens stay valid).
    static func derivationRoot(in directory: String, keyring: MasterKeyring) throws -> SymmetricKey? {
        let path = directory + "/" + TokenKeys.derivationRootFile
        guard let text = try readProtected(path) else { return nil }
        let parts = text.split(separator: " ")
        guard parts.count == 2, let version = UInt32(parts[0]),
            let wrapped = Data(base64Encoded: parts[1].trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            throw KeyMaterialError(path: path, reason: "not a wrapped key")
        }
        do {
            return try keyring.unwrap(Array(wrapped), version: version, context: TokenKeys.derivationContext)
        } catch {
            throw KeyMaterialError(path: path, reason: "does not open with this installation's master key: \(error)")
        }
    }

    /// Writes `root` wrapped under the keyring's current version (replacing the file atomically).
    static func writeDerivationRoot(_ root: SymmetricKey, in directory: String, keyring: MasterKeyring) throws {
        let path = directory + "/" + TokenKeys.derivationRootFile
        let current = keyring.current
        let wrapped = try current.wrap(root, context: TokenKeys.derivationContext)
        try replaceProtected(path, contents: "\(current.version) " + Data(wrapped).base64EncodedString() + "\n")
    }

    /// Replaces `path` with `contents`: a new 0600 file synced to disk, then renamed over the
    /// old one, so a crash leaves one or the other, never half of either.
    static func replaceProtected(_ path: String, contents: String) throws(KeyMaterialError) {
        let temporary = path + ".new"
        unlink(temporary)
        try writeProtected(temporary, contents: contents)
        guard rename(temporary, path) == 0 else {
            throw KeyMaterialError(path: path, reason: "cannot replace: \(String(cString: strerror(errno)))")
        }
    }

    /// The current generation's key (the one every HA node must share, and `keys list` shows).
    public var userAuthorityPublicKey: SSHPublicKey { SSHPublicKey(ed25519: userAuthorityKeys.current.publicKey, comment: "bastion-user-ca") }
    public var upstreamAuthorityPublicKey: SSHPublicKey { SSHPublicKey(ed25519: upstreamAuthorityKeys.current.publicKey, comment: "bastion-upstream-ca") }
    /// The front door's host key, which `ssh -J` inner connections present too (`ca show --known-hosts`).
    public var hostPublicKey: SSHPublicKey { SSHPublicKey(ed25519: hostKey.publicKey) }

    // MARK: - Files

    static func ensureDirectory(_ directory: String) throws(KeyMaterialError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw KeyMaterialError(path: directory, reason: "is not a directory") }
            return
        }
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700]
            )
        } catch {
            throw KeyMaterialError(path: directory, reason: "cannot create the data directory: \(error.localizedDescription)")
        }
    }

    static func signingKey(at path: String, comment: String, created: (String) -> Void) throws(KeyMaterialError) -> Ed25519PrivateKey {
        if let text = try readProtected(path) {
            do { return try OpenSSHPrivateKeyFile.decodeEd25519(text) } catch {
                throw KeyMaterialError(path: path, reason: "not an unencrypted OpenSSH Ed25519 private key (\(error))")
            }
        }
        let key: Ed25519PrivateKey
        do { key = try Ed25519PrivateKey() } catch { throw KeyMaterialError(path: path, reason: "key generation failed: \(error)") }
        try writeProtected(path, contents: OpenSSHPrivateKeyFile.encode(key, comment: comment))
        let publicLine = SSHPublicKey(ed25519: key.publicKey).authorizedKeysLine + " " + comment + "\n"
        try? publicLine.write(toFile: path + ".pub", atomically: true, encoding: .utf8)
        created(path)
        return key
    }

    private static func masterKey(at path: String, created: (String) -> Void) throws(KeyMaterialError) -> SymmetricKey {
        if let text = try readProtected(path) {
            guard let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)),
                let key = try? SymmetricKey(bytes: Array(bytes))
            else {
                throw KeyMaterialError(path: path, reason: "not a base64-encoded 32-byte key")
            }
            return key
        }
        let key = SymmetricKey.random()
        try writeProtected(path, contents: Data(key.bytes).base64EncodedString() + "\n")
        created(path)
        return key
    }

    /// Reads a secret file after checking that only its owner can read it; nil if absent.
    static func readProtected(_ path: String) throws(KeyMaterialError) -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
            let permissions = attributes[.posixPermissions] as? Int
        else {
            throw KeyMaterialError(path: path, reason: "cannot read its permissions")
        }
        let mode = permissions & 0o777
        guard mode & 0o077 == 0 else {
            throw KeyMaterialError(
                path: path,
                reason: "is readable by group or others (mode \(String(mode, radix: 8))); refusing to use it. Fix with: chmod 600 \(path)"
            )
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw KeyMaterialError(path: path, reason: "cannot be read")
        }
        return text
    }

    /// Overwrites a key file with zeros, syncs it, then unlinks it: best effort on a journaling
    /// or copy-on-write file system (docs/keys.md says what that means for disk images).
    static func shred(_ path: String) throws(KeyMaterialError) {
        let fd = open(path, O_WRONLY)
        if fd >= 0 {
            var info = stat()
            let size = fstat(fd, &info) == 0 ? max(Int(info.st_size), 64) : 512
            let zeros = [UInt8](repeating: 0, count: size)
            _ = zeros.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            _ = fsync(fd)
            close(fd)
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw KeyMaterialError(path: path, reason: "cannot remove: \(String(cString: strerror(errno)))")
        }
    }

    /// Creates a new file 0600 (never replacing one) and syncs it to disk.
    static func writeProtected(_ path: String, contents: String) throws(KeyMaterialError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw KeyMaterialError(path: path, reason: "cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = Array(contents.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            unlink(path)
            throw KeyMaterialError(path: path, reason: "cannot write: \(String(cString: strerror(errno)))")
        }
    }
}

/// A key file that cannot be used; the message names the file and the fix.
public struct KeyMaterialError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}
