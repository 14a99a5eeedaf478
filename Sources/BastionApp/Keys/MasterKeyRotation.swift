public import BastionCore
import BastionCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Rotation of the master key (docs/keys.md "Rotation"): `bastiond keys rotate`, and the
/// daemon when `keys.rotate_every` has passed.
///
/// A rotation makes the next version and makes it current; the old one turns decrypt-only.
/// The re-wrap then wraps every data key again under the current version (TOTP seeds in the
/// database, each recording's key into its `.keys` sidecar, the derivation root): metadata
/// only, nothing a data key seals is re-encrypted, and a recording's bytes and hash never
/// change. A decrypt-only version is destroyed once `keys.retire_after` has passed and
/// nothing references it. Every step is audited.
public struct MasterKeyRotation: Sendable {
    public struct Rewrap: Sendable, Equatable {
        public var secrets = 0
        public var recordings = 0
        /// What could not be re-wrapped (its old version then stays referenced).
        public var failed: [String] = []
    }

    /// What each version is still needed for.
    public struct References: Sendable, Equatable {
        public var secrets: [UInt32: Int] = [:]
        public var recordings: [UInt32: Int] = [:]
        public var derivationRoot: UInt32?

        public var total: [UInt32: Int] {
            var total = secrets.merging(recordings, uniquingKeysWith: +)
            if let derivationRoot { total[derivationRoot, default: 0] += 1 }
            return total
        }
    }

    let environment: BastionEnvironment
    let actor: AuditEvent.Actor

    public init(environment: BastionEnvironment, actor: AuditEvent.Actor) {
        self.environment = environment
        self.actor = actor
    }

    private var keys: KeyMaterial { environment.keys }
    private var directory: String { environment.configuration.server.dataDirectory }
    private var keyring: MasterKeyring { environment.keys.masterKeys }

    public func schedule() throws -> MasterKeySchedule {
        try MasterKeyScheduleFile.load(directory: directory, firstCreated: environment.clock.now())
    }

    /// Makes the next version current. Returns it.
    @discardableResult
    public func rotate() throws -> UInt32 {
        let now = environment.clock.now()
        var schedule = try schedule()
        let previous = schedule.current.version
        let next = schedule.rotate(now: now)
        // The derivation root moves out of master.key before that key can ever be destroyed.
        if try KeyMaterial.derivationRoot(in: directory, keyring: keyring) == nil {
            try KeyMaterial.writeDerivationRoot(try SymmetricKey(bytes: keys.derivationRoot), in: directory, keyring: keyring)
        }
        let key = try keys.masterKeyVault.create(version: next)
        try MasterKeyScheduleFile.save(schedule, directory: directory)
        keyring.install(key, asCurrent: true)
        try audit(.keyRotate, target: keys.masterKeyVault.location(of: next), details: [
            "version": String(next), "previous_version": String(previous), "provider": keys.provider.rawValue,
        ])
        let destroyAfter = now.addingTimeInterval(environment.configuration.keys.retireAfter)
        try audit(.keyRetire, target: keys.masterKeyVault.location(of: previous), details: [
            "version": String(previous), "destroy_after": AuditEvent.timestamp(destroyAfter),
        ])
        return next
    }

    /// Wraps every data key not yet under the current version again under it.
    @discardableResult
    public func rewrap() throws -> Rewrap {
        var report = Rewrap()
        let current = keyring.current.version
        for user in try environment.users.allUsers() {
            guard let sealed = try environment.users.totpState(of: user.name)?.sealedSecret else { continue }
            do {
                guard let resealed = try keys.sealer.resealTOTPSecret(sealed, for: user.name) else { continue }
                if try environment.users.resealTOTPSecret(of: user.name, from: sealed, to: resealed) { report.secrets += 1 }
            } catch {
                report.failed.append("TOTP seed of \(user.name): \(error)")
            }
        }
        let recordingKeys = environment.recordingKeys
        for recording in sealedRecordings() where recording.version != current {
            do {
                let dataKey = try recordingKeys.dataKey(for: recording.header, path: recording.path)
                let wrapped = try keyring.current.wrap(dataKey, context: RecordingKeys.wrapContext)
                try RecordingKeySidecar.append(version: current, wrapped: wrapped, to: recording.path)
                report.recordings += 1
            } catch {
                report.failed.append("\(recording.path): \(error)")
            }
        }
        if let root = try KeyMaterial.derivationRoot(in: directory, keyring: keyring), derivationRootVersion() != current {
            try KeyMaterial.writeDerivationRoot(root, in: directory, keyring: keyring)
        }
        try audit(.keyRewrap, outcome: report.failed.isEmpty ? .success : .failure, reason: report.failed.first, details: [
            "version": String(current), "recordings": String(report.recordings), "secrets": String(report.secrets),
            "failed": String(report.failed.count),
        ])
        return report
    }

    /// For each version, what still needs it: the newest wrapped copy of each data key counts.
    public func references() throws -> References {
        var references = References()
        for user in try environment.users.allUsers() {
            guard let sealed = try environment.users.totpState(of: user.name)?.sealedSecret else { continue }
            references.secrets[SecretSealer.masterKeyVersion(ofSealed: sealed), default: 0] += 1
        }
        for recording in sealedRecordings() { references.recordings[recording.version, default: 0] += 1 }
        references.derivationRoot = derivationRootVersion()
        return references
    }

    /// Destroys the decrypt-only versions past `keys.retire_after` that nothing references.
    @discardableResult
    public func retire() throws -> [UInt32] {
        let now = environment.clock.now()
        var schedule = try schedule()
        let destroyable = schedule.destroyable(now: now, retireAfter: environment.configuration.keys.retireAfter, references: try references().total)
        for version in destroyable {
            // Recorded first: no record, no destruction (fail closed).
            try audit(.keyDestroy, target: keys.masterKeyVault.location(of: version), details: ["version": String(version)])
            try keys.masterKeyVault.destroy(version: version)
            schedule.markDestroyed(version, at: now)
            try MasterKeyScheduleFile.save(schedule, directory: directory)
            keyring.remove(version: version)
        }
        return destroyable
    }

    /// One maintenance pass (the daemon, hourly): rotate when due, re-wrap, retire.
    public func maintain() throws {
        if try schedule().rotationDue(now: environment.clock.now(), every: environment.configuration.keys.rotateEvery) {
            try rotate()
        }
        if try references().total.keys.contains(where: { $0 != keyring.current.version }) { try rewrap() }
        try retire()
    }

    // MARK: - Parts

    struct SealedRecording {
        var path: String
        var header: SealedRecordingHeader
        /// The newest version any of its wrapped keys is under.
        var version: UInt32
    }

    /// Every sealed recording under `recording.dir` with the newest version wrapping its key.
    func sealedRecordings() -> [SealedRecording] {
        let root = environment.configuration.recording.directory
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return [] }
        var found: [SealedRecording] = []
        while let relative = enumerator.nextObject() as? String {
            // Stream captures (`recording.capture_streams`) have data keys of their own.
            guard relative.hasSuffix(".cast") || relative.hasSuffix(".streams") else { continue }
            let path = root + "/" + relative
            guard let handle = FileHandle(forReadingAtPath: path) else { continue }
            let head = (try? handle.read(upToCount: SealedRecordingHeader.maximumWrappedKeyByteCount + 4_096)).map(Array.init) ?? []
            try? handle.close()
            guard BastionCore.SealedRecording.isSealed(prefix: Array(head.prefix(8))), let header = try? SealedRecordingHeader.parse(head) else {
                continue
            }
            let versions = RecordingKeySidecar.read(path: path).map(\.0) + [header.masterKeyVersion]
            found.append(SealedRecording(path: path, header: header, version: versions.max() ?? header.masterKeyVersion))
        }
        return found
    }

    private func derivationRootVersion() -> UInt32? {
        guard let text = try? String(contentsOfFile: directory + "/" + TokenKeys.derivationRootFile, encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { UInt32($0) }
    }

    private func audit(
        _ type: AuditEventType, outcome: AuditEvent.Outcome = .success, target: String? = nil, reason: String? = nil, details: [String: String]
    ) throws {
        try environment.auditLog.append(AuditEvent(
            type: type, time: environment.clock.now(), outcome: outcome, actor: actor, target: target, reason: reason, details: details
        ))
    }
}
