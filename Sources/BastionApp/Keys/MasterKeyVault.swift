import BastionCore
import BastionCrypto
import BastionPKCS11
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where a provider keeps the master key's versions: found, made and destroyed there.
protocol MasterKeyVault: Sendable {
    func load(version: UInt32) throws -> any MasterKey
    func create(version: UInt32) throws -> any MasterKey
    /// Destroys the key itself; afterwards nothing it wrapped opens.
    func destroy(version: UInt32) throws
    /// Where `version` lives, for `keys list` and audit records.
    func location(of version: UInt32) -> String
}

/// `file`: version 1 is `master.key` (as before rotation existed), version N `master-vN.key`,
/// each 0600 in the data directory.
struct FileMasterKeyVault: MasterKeyVault {
    let directory: String

    func path(of version: UInt32) -> String {
        directory + "/" + (version == 1 ? KeyMaterial.FileName.masterKey : "master-v\(version).key")
    }

    func location(of version: UInt32) -> String { path(of: version) }

    func load(version: UInt32) throws -> any MasterKey {
        let path = path(of: version)
        guard let text = try KeyMaterial.readProtected(path) else {
            throw KeyMaterialError(path: path, reason: "missing: master key version \(version) is still in use (see bastiond keys list)")
        }
        guard let bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)), let key = try? SymmetricKey(bytes: Array(bytes)) else {
            throw KeyMaterialError(path: path, reason: "not a base64-encoded 32-byte key")
        }
        return SoftwareMasterKey(key: key, version: version)
    }

    func create(version: UInt32) throws -> any MasterKey {
        let key = SymmetricKey.random()
        try KeyMaterial.writeProtected(path(of: version), contents: Data(key.bytes).base64EncodedString() + "\n")
        return SoftwareMasterKey(key: key, version: version)
    }

    /// Overwrites the file before unlinking it (best effort on a journaling or copy-on-write
    /// file system; docs/keys.md says what that means for disk images).
    func destroy(version: UInt32) throws {
        try KeyMaterial.shred(path(of: version))
    }
}

/// `pkcs11`: version N is the AES key labelled `bastion-master-vN` in the token.
struct TokenMasterKeyVault: MasterKeyVault {
    let token: PKCS11Token
    let tokenLabel: String

    static func label(of version: UInt32) -> String { "bastion-master-v\(version)" }

    func location(of version: UInt32) -> String { "pkcs11 token \"\(tokenLabel)\" label \(Self.label(of: version))" }

    func load(version: UInt32) throws -> any MasterKey {
        guard let key = try token.findAESKey(label: Self.label(of: version)) else {
            throw StartupError(message: "keys.pkcs11_token: token \"\(tokenLabel)\" has no key labelled \"\(Self.label(of: version))\"")
        }
        return TokenMasterKey(token: token, key: key, version: version)
    }

    func create(version: UInt32) throws -> any MasterKey {
        TokenMasterKey(token: token, key: try token.generateAESKey(label: Self.label(of: version)), version: version)
    }

    func destroy(version: UInt32) throws {
        try token.destroyObjects(label: Self.label(of: version))
    }
}

/// `master-keys.json` in the data directory: the versions' life (no secret in it).
enum MasterKeyScheduleFile {
    static let name = "master-keys.json"

    static func load(directory: String, firstCreated: @autoclosure () -> Date) throws -> MasterKeySchedule {
        let path = directory + "/" + name
        guard let data = FileManager.default.contents(atPath: path) else {
            let schedule = MasterKeySchedule(firstCreated: firstCreated())
            try save(schedule, directory: directory)
            return schedule
        }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return MasterKeySchedule(versions: try decoder.decode(MasterKeySchedule.self, from: data).versions)
        } catch {
            throw KeyMaterialError(path: path, reason: "unreadable: \(error)")
        }
    }

    /// Written to a temporary file and renamed over the old one, so a crash leaves one or the other.
    static func save(_ schedule: MasterKeySchedule, directory: String) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try KeyMaterial.replaceProtected(directory + "/" + name, contents: String(decoding: try encoder.encode(schedule), as: UTF8.self) + "\n")
    }
}
