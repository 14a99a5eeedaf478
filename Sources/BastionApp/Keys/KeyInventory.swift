public import BastionCore
import BastionCrypto

/// What `bastiond keys list` prints: each key's role, where it lives and its fingerprint.
public struct KeyInventory: Sendable {
    public struct Entry: Sendable, Equatable {
        public var name: String
        public var location: String
        public var fingerprint: String
    }

    public let entries: [Entry]

    public init(_ keys: KeyMaterial, configuration: BastionConfiguration) {
        let directory = configuration.server.dataDirectory
        let token = "pkcs11 token \"\(configuration.keys.pkcs11Token ?? "")\""
        func place(file: String, label: String) -> String {
            keys.provider == .file ? directory + "/" + file : "\(token) label \(label)"
        }
        entries = [
            Entry(name: "host key", location: keys.hostKeyPath, fingerprint: SSHPublicKey(ed25519: keys.hostKey.publicKey).fingerprint),
            Entry(
                name: "user CA", location: place(file: KeyMaterial.FileName.userAuthority, label: TokenKeys.Label.userAuthority),
                fingerprint: keys.userAuthorityPublicKey.fingerprint
            ),
            Entry(
                name: "upstream CA", location: place(file: KeyMaterial.FileName.upstreamAuthority, label: TokenKeys.Label.upstreamAuthority),
                fingerprint: keys.upstreamAuthorityPublicKey.fingerprint
            ),
            Entry(
                name: "audit key v\(AuditKeyFiles.localVersion(in: directory))",
                location: place(
                    file: AuditKeyFiles.name(of: AuditKeyFiles.localVersion(in: directory)),
                    label: TokenAuditKeyVault.label(of: AuditKeyFiles.localVersion(in: directory))
                ),
                fingerprint: SSHPublicKey(ed25519: keys.auditKey.publicKey).fingerprint
            ),
            Entry(
                name: "master key v\(keys.masterKeys.current.version)",
                location: place(file: KeyMaterial.FileName.masterKey, label: TokenKeys.Label.master), fingerprint: "(secret: no fingerprint)"
            ),
        ]
    }

    /// `vN  STATE  created …  LOCATION  referenced by: N recordings, M secrets, the derivation root`
    public static func versionLines(_ schedule: MasterKeySchedule, references: MasterKeyRotation.References, keys: KeyMaterial) -> [String] {
        schedule.versions.map { version in
            var uses: [String] = []
            if let count = references.recordings[version.version] { uses.append("\(count) recording\(count == 1 ? "" : "s")") }
            if let count = references.secrets[version.version] { uses.append("\(count) sealed secret\(count == 1 ? "" : "s")") }
            if references.derivationRoot == version.version { uses.append("the derivation root") }
            let dates = "created \(AuditEvent.timestamp(version.created))"
                + (version.superseded.map { ", superseded \(AuditEvent.timestamp($0))" } ?? "")
                + (version.destroyed.map { ", destroyed \(AuditEvent.timestamp($0))" } ?? "")
            return "v\(version.version)\t\(version.state.rawValue)\t\(dates)\t\(keys.masterKeyVault.location(of: version.version))\t"
                + "referenced by: \(uses.isEmpty ? "nothing" : uses.joined(separator: ", "))"
        }
    }

    public var lines: [String] {
        entries.map { "\($0.name)\t\($0.location)\t\($0.fingerprint)" }
    }
}
