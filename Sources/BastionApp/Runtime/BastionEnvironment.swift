public import BastionCore
public import BastionStore
import Foundation

/// Everything a `bastiond` process opens before doing anything: configuration, keys,
/// database and stores. Shared by the daemon and the admin commands, which work against
/// the same files while the daemon runs.
public struct BastionEnvironment: Sendable {
    public static let databaseFileName = "bastion.sqlite"

    public let configuration: BastionConfiguration
    public let keys: KeyMaterial
    public let users: SQLiteUserStore
    public let ledger: SQLiteCertificateLedger
    public let auditLog: SQLiteAuditLog
    public let sessions: SQLiteSessionStore
    public let siemOutbox: SQLiteSIEMOutbox
    public let elevations: SQLiteElevationStore
    public let sessionCatalog: SQLiteSessionCatalog
    /// Sign-in links and sessions of the auditors' web view.
    public let webSessions: SQLiteWebSessionStore
    public let clock: any WallClock
    /// Answers whether the database is reachable (for `/healthz`).
    public let databaseCheck: @Sendable () -> Bool

    /// Opens the data directory, creating keys and database on first use.
    /// - Parameter keyCreated: told the path of each key file created now.
    public static func open(
        configuration: BastionConfiguration, clock: any WallClock = SystemWallClock(), keyCreated: (String) -> Void = { _ in }
    ) throws -> BastionEnvironment {
        let directory = configuration.server.dataDirectory
        var createdKeys: [String] = []
        let keys = try KeyMaterial.loadOrCreate(in: directory) { path in
            createdKeys.append(path)
            keyCreated(path)
        }
        let database: DatabasePoolHandle
        do {
            database = try DatabasePoolHandle(
                path: directory + "/" + databaseFileName,
                sealing: .init(key: keys.auditKey, every: configuration.audit.checkpointEvery), clock: clock
            )
        } catch {
            throw StartupError(message: "cannot open the database \(directory)/\(databaseFileName): \(error)")
        }
        for path in createdKeys {
            try database.auditLog.append(AuditEvent(
                type: .keyCreate, time: clock.now(), actor: .init(user: operatingSystemUser, method: "bastiond"),
                target: path
            ))
        }
        return BastionEnvironment(
            configuration: configuration, keys: keys, users: database.users, ledger: database.ledger,
            auditLog: database.auditLog, sessions: database.sessions, siemOutbox: database.siemOutbox,
            elevations: database.elevations, sessionCatalog: database.sessionCatalog, webSessions: database.webSessions, clock: clock, databaseCheck: database.isReachable
        )
    }

    public var sealer: SecretSealer { SecretSealer(masterKey: keys.masterKey) }

    /// The elevation service over this environment's stores, auditing through `audit`.
    public func elevation(audit: any AuditEmitter) -> ElevationService {
        ElevationService(
            store: elevations, users: users, policy: configuration.policy, settings: configuration.elevation,
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
