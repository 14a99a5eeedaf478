public import BastionCore
public import BastionCrypto
import BastionPostgres
import BastionStore
import Foundation

/// Everything a `bastiond` process opens before doing anything: configuration, keys,
/// database and stores. Shared by the daemon and the admin commands, which work against
/// the same files while the daemon runs.
public struct BastionEnvironment: Sendable {
    public static let databaseFileName = "bastion.sqlite"

    /// The file as read at start; a reload changes `policy`, not this.
    public let configuration: BastionConfiguration
    /// Roles and targets as every service reads them: the file's, until a reload (SIGHUP)
    /// replaces them.
    public let policy: LivePolicy
    public let keys: KeyMaterial
    public let users: any UserStore
    public let ledger: any CertificateLedger
    public let auditLog: any AuditLogStore
    public let sessions: any SessionStore
    public let siemOutbox: any OutboxStore
    public let elevations: any ElevationStore
    public let sessionCatalog: any SessionCatalog
    /// Sign-in links and sessions of the auditors' web view.
    public let webSessions: any WebSessionStore
    public let clock: any WallClock
    /// Answers whether the database is reachable (for `/healthz`).
    public let databaseCheck: @Sendable () -> Bool

    /// Opens the data directory, creating keys and database on first use.
    /// - Parameter keyCreated: told the path of each key file created now.
    public static func open(
        configuration: BastionConfiguration, clock: any WallClock = SystemWallClock(), keyCreated: (String) -> Void = { _ in }
    ) throws -> BastionEnvironment {
        var createdKeys: [String] = []
        let keys = try KeyMaterial.load(configuration) { path in
            createdKeys.append(path)
            keyCreated(path)
        }
        let stores = try openStores(configuration: configuration, keys: keys, clock: clock)
        for path in createdKeys {
            try stores.auditLog.append(AuditEvent(
                type: .keyCreate, time: clock.now(), actor: .init(user: operatingSystemUser, method: "bastiond"),
                target: path
            ))
        }
        return BastionEnvironment(
            configuration: configuration, policy: LivePolicy(configuration.policy), keys: keys, users: stores.users, ledger: stores.ledger,
            auditLog: stores.auditLog, sessions: stores.sessions, siemOutbox: stores.outbox,
            elevations: stores.elevations, sessionCatalog: stores.catalog, webSessions: stores.webSessions, clock: clock,
            databaseCheck: stores.isReachable
        )
    }

    /// The embedded SQLite database in the data directory, or the PostgreSQL database of
    /// `storage.url` (migrated, and checked to hold this node's keys' fingerprints).
    private static func openStores(configuration: BastionConfiguration, keys: KeyMaterial, clock: any WallClock) throws -> StoreSet {
        let sealing = AuditKeyFiles.sealing(keys, directory: configuration.server.dataDirectory, every: configuration.audit.checkpointEvery)
        guard let url = configuration.storage.url else {
            let directory = configuration.server.dataDirectory
            let database: DatabasePoolHandle
            do {
                database = try DatabasePoolHandle(path: directory + "/" + databaseFileName, sealing: sealing, clock: clock)
            } catch {
                throw StartupError(message: "cannot open the database \(directory)/\(databaseFileName): \(error)")
            }
            return database.stores
        }
        let node = configuration.storage.node
        let database: PostgresDatabase
        do {
            database = try PostgresDatabase(url: url)
        } catch {
            throw StartupError(message: "cannot open the PostgreSQL database \(configuration.storage.redactedURL ?? ""): \(error)")
        }
        let mismatched = try PostgresClusterIdentity.claim(
            clusterFingerprints(keys, auditAnchor: try AuditKeyFiles.trustAnchor(keys, directory: configuration.server.dataDirectory)), node: node, in: database
        )
        guard mismatched.isEmpty else {
            throw StartupError(message: """
                this node's keys differ from the cluster's (\(mismatched.joined(separator: ", "))): every node needs the same key files; \
                copy them from the first node's data directory (docs/ha.md)
                """)
        }
        return database.stores(node: node, sealing: sealing, clock: clock)
    }

    /// What identifies the cluster: public-key fingerprints, and for the master key a value
    /// derived from it (it proves two nodes hold the same key without revealing it).
    /// The audit key's is the first one's (the trust anchor): rotation does not change it.
    static func clusterFingerprints(_ keys: KeyMaterial, auditAnchor: Ed25519PublicKey) -> [String: String] {
        [
            "host_key": SSHPublicKey(ed25519: keys.hostKey.publicKey).fingerprint,
            "user_ca": keys.userAuthorityPublicKey.fingerprint,
            "upstream_ca": keys.upstreamAuthorityPublicKey.fingerprint,
            "audit_key": SSHPublicKey(ed25519: auditAnchor).fingerprint,
            "master_key": AuditChain.hex(SHA256.hash(keys.sealer.derivedKey(purpose: "cluster-identity"))),
        ]
    }

    public var sealer: SecretSealer { keys.sealer }

    /// The session catalog's keyed search tokens (docs/keys.md: the database holds no printed word).
    public var blindWords: BlindWords { BlindWords(key: sealer.derivedKey(purpose: BlindWords.purpose)) }

    /// The first audit key: `audit verify` trusts it, and the key history every later one.
    public func auditTrustAnchor() throws -> Ed25519PublicKey {
        try AuditKeyFiles.trustAnchor(keys, directory: configuration.server.dataDirectory)
    }

    /// Seals new recordings (`recording.encrypt`) and opens every recording, sealed or not.
    public var recordingKeys: RecordingKeys {
        RecordingKeys(keyring: keys.masterKeys, sealsNewRecordings: configuration.recording.encrypt)
    }

    /// The elevation service over this environment's stores, auditing through `audit`.
    public func elevation(audit: any AuditEmitter) -> ElevationService {
        ElevationService(
            store: elevations, users: users, policy: policy, settings: configuration.elevation,
            stepUp: StepUpVerifier(
                users: users, sealer: sealer,
                settings: AuthenticationSettings(
                    totpSkewSteps: configuration.auth.totpSkewSteps, maxFailures: configuration.auth.maxFailures, lockout: configuration.auth.lockout
                )
            ),
            audit: audit, clock: clock, links: ApprovalLink(key: sealer.derivedKey(purpose: "approval-links"), publicURL: configuration.http.publicURL)
        )
    }

    /// The targets' sudo-check tokens (`bastiond target token`, the target API).
    public var targetTokens: TargetToken { TargetToken(key: sealer.derivedKey(purpose: TargetToken.purpose)) }

    /// The admin operations, audited as done by `administrator`.
    public func administration(administrator: String) -> UserAdministration {
        UserAdministration(
            users: users, audit: auditLog, sealer: sealer, policy: configuration.policy, clock: clock, administrator: administrator
        )
    }

    /// The name of the OS user running an admin command, for the audit log.
    public static var operatingSystemUser: String {
        let environment = ProcessInfo.processInfo.environment
        if let sudoUser = environment["SUDO_USER"] { return "\(sudoUser) (sudo)" }
        return environment["USER"] ?? "uid \(getuid())"
    }
}

/// A reason bastiond cannot start, phrased for the operator.
public struct StartupError: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
