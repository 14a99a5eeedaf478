public import BastionCore
public import BastionCrypto
import BastionPKCS11
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Rotation of the audit key (docs/audit-chain.md "Audit key rotation"): `bastiond keys rotate-audit`.
///
/// The next version is made by the provider (`audit_key.vN` or the token label
/// `bastion-audit-vN`), introduced in the database's key history by a statement the current
/// key signs, in one transaction that also seals the chain head with the current key and
/// appends `key.rotate`; then the old private key is destroyed (after `key.destroy` is
/// recorded): from the rotation on it must never sign again, and verifying needs only public
/// halves, which the history and `audit_key[.vN].pub` keep.
public struct AuditKeyRotation: Sendable {
    let environment: BastionEnvironment
    let actor: AuditEvent.Actor

    public init(environment: BastionEnvironment, actor: AuditEvent.Actor) {
        self.environment = environment
        self.actor = actor
    }

    private var directory: String { environment.configuration.server.dataDirectory }

    /// Makes the next audit key current. Returns its history entry.
    @discardableResult
    public func rotate() throws -> AuditKeyEntry {
        let vault = AuditKeyFiles.vault(environment.keys, directory: directory)
        let history = try environment.auditLog.keyHistory()
        let version = history.last?.version ?? 1
        let current = try vault.signer(version: version)
        // The trust anchor stays in the data directory for `audit verify` (the token's first
        // key is about to be destroyed; the file provider wrote it when it made the key).
        if version == 1 { try AuditKeyFiles.writePublicKey(current.publicKey, version: 1, directory: directory) }
        let next = try vault.create(version: version + 1)
        try AuditKeyFiles.writePublicKey(next.publicKey, version: version + 1, directory: directory)
        let now = environment.clock.now()
        let entry = try environment.auditLog.rotateKey(current: current, next: next.publicKey, at: now) { entry in
            AuditEvent(
                type: .keyRotate, time: now, actor: actor, target: vault.location(of: entry.version),
                details: [
                    "key": "audit", "version": String(entry.version), "previous_version": String(version),
                    "fingerprint": entry.fingerprint, "previous_fingerprint": SSHPublicKey(ed25519: current.publicKey).fingerprint,
                    "from_seq": String(entry.fromSeq), "provider": environment.keys.provider.rawValue,
                ]
            )
        }
        // Recorded first: no record, no destruction (fail closed).
        try environment.auditLog.append(AuditEvent(
            type: .keyDestroy, time: environment.clock.now(), actor: actor, target: vault.location(of: version),
            details: ["key": "audit", "version": String(version), "fingerprint": SSHPublicKey(ed25519: current.publicKey).fingerprint]
        ))
        try vault.destroy(version: version)
        return entry
    }
}

/// Where a provider keeps the audit key's versions.
protocol AuditKeyVault: AuditSigningKeys {
    /// Makes version `version` (or returns it, if a rotation stopped after making it).
    func create(version: Int) throws -> any Ed25519Signer
    /// Destroys the private key; its public half stays in the history and the data directory.
    func destroy(version: Int) throws
    func location(of version: Int) -> String
}

/// The audit key's files in the data directory: `audit_key` (+ `.pub`) is version 1, the
/// first key and trust anchor; version N is `audit_key.vN` (+ `.pub`). Public halves are
/// kept forever; private ones are destroyed at the next rotation.
public enum AuditKeyFiles {
    static func name(of version: Int) -> String {
        version == 1 ? KeyMaterial.FileName.auditKey : KeyMaterial.FileName.auditKey + ".v\(version)"
    }

    /// The newest version this data directory knows of (by its `.pub` files).
    public static func localVersion(in directory: String) -> Int {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let prefix = KeyMaterial.FileName.auditKey + ".v"
        let versions = names.compactMap { name -> Int? in
            guard name.hasPrefix(prefix), name.hasSuffix(".pub") else { return nil }
            return Int(name.dropFirst(prefix.count).dropLast(4))
        }
        return versions.max() ?? 1
    }

    /// The `file` provider's current audit key: the newest version's file (version 1 is made
    /// at first start, as before rotation existed; a later one only by rotation).
    static func currentFileKey(in directory: String, created: (String) -> Void) throws -> Ed25519PrivateKey {
        let version = localVersion(in: directory)
        let path = directory + "/" + name(of: version)
        if version == 1 { return try KeyMaterial.signingKey(at: path, comment: "bastion audit key", created: created) }
        guard FileManager.default.fileExists(atPath: path) else {
            throw KeyMaterialError(path: path, reason: "missing: it is the current audit key (version \(version), see \(path).pub)")
        }
        return try KeyMaterial.signingKey(at: path, comment: "bastion audit key v\(version)", created: created)
    }

    /// The first audit key (`audit_key.pub`): what `audit verify` trusts, and the cluster's
    /// audit identity (unchanged by rotation).
    public static func trustAnchor(_ keys: KeyMaterial, directory: String) throws -> Ed25519PublicKey {
        let path = directory + "/" + name(of: 1) + ".pub"
        if let line = try? String(contentsOfFile: path, encoding: .utf8) {
            guard let key = (try? SSHPublicKey(authorizedKeysLine: line.trimmingCharacters(in: .whitespacesAndNewlines)))?.ed25519PublicKey else {
                throw KeyMaterialError(path: path, reason: "not an ssh-ed25519 public key")
            }
            return key
        }
        guard localVersion(in: directory) == 1 else {
            throw KeyMaterialError(path: path, reason: "missing: it is the first audit key, the one verification trusts; restore it from your copy of `bastiond audit key`")
        }
        return keys.auditKey.publicKey
    }

    /// Writes `<name>.pub` unless it exists.
    static func writePublicKey(_ key: Ed25519PublicKey, version: Int, directory: String) throws {
        let path = directory + "/" + name(of: version) + ".pub"
        guard !FileManager.default.fileExists(atPath: path) else { return }
        let line = SSHPublicKey(ed25519: key).authorizedKeysLine + " bastion audit key" + (version == 1 ? "" : " v\(version)") + "\n"
        do { try line.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw KeyMaterialError(path: path, reason: "cannot write: \(error)")
        }
    }

    /// The vault of `keys`' provider.
    static func vault(_ keys: KeyMaterial, directory: String) -> any AuditKeyVault {
        if let token = (keys.auditKey as? TokenSigner)?.token {
            return TokenAuditKeyVault(token: token)
        }
        return FileAuditKeyVault(directory: directory)
    }

    /// What checkpoints are signed with: `keys`' audit key as version `localVersion`, and
    /// the provider's vault for a version made after this process started.
    public static func sealing(_ keys: KeyMaterial, directory: String, every: Int) -> AuditSealing {
        AuditSealing(key: keys.auditKey, keyVersion: localVersion(in: directory), keys: vault(keys, directory: directory), every: every)
    }
}

struct FileAuditKeyVault: AuditKeyVault {
    let directory: String

    func location(of version: Int) -> String { directory + "/" + AuditKeyFiles.name(of: version) }

    func signer(version: Int) throws -> any Ed25519Signer {
        let path = location(of: version)
        guard let text = try KeyMaterial.readProtected(path) else {
            throw KeyMaterialError(path: path, reason: "missing: audit key version \(version) signs checkpoints now; copy it from the node that rotated")
        }
        do { return try OpenSSHPrivateKeyFile.decodeEd25519(text) } catch {
            throw KeyMaterialError(path: path, reason: "not an unencrypted OpenSSH Ed25519 private key (\(error))")
        }
    }

    func create(version: Int) throws -> any Ed25519Signer {
        try KeyMaterial.signingKey(at: location(of: version), comment: "bastion audit key v\(version)") { _ in }
    }

    /// Overwrites the file before unlinking it (best effort, as for master key versions).
    func destroy(version: Int) throws {
        try KeyMaterial.shred(location(of: version))
    }
}

/// `pkcs11`: version 1 is `bastion-audit`, version N `bastion-audit-vN`.
struct TokenAuditKeyVault: AuditKeyVault {
    let token: PKCS11Token

    static func label(of version: Int) -> String { version == 1 ? TokenKeys.Label.auditKey : TokenKeys.Label.auditKey + "-v\(version)" }

    func location(of version: Int) -> String { "pkcs11 token \"\(token.label)\" label \(Self.label(of: version))" }

    func signer(version: Int) throws -> any Ed25519Signer {
        guard let key = try token.findEd25519Key(label: Self.label(of: version)) else {
            throw StartupError(message: "keys.pkcs11_token: token \"\(token.label)\" has no key labelled \"\(Self.label(of: version))\"")
        }
        return try TokenSigner(token: token, key: key)
    }

    func create(version: Int) throws -> any Ed25519Signer {
        let key = try token.findEd25519Key(label: Self.label(of: version)) ?? token.generateEd25519Key(label: Self.label(of: version))
        return try TokenSigner(token: token, key: key)
    }

    func destroy(version: Int) throws {
        try token.destroyObjects(label: Self.label(of: version))
    }
}
