import ArgumentParser
import BastionApp
import BastionCore
import BastionCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `bastiond backup keygen|create|verify|restore|drill`: encrypted backups and restore drills
/// (docs/operations.md "Backups and restore drills").
struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup", abstract: "Encrypted, signed backups; verify, restore and restore drills.",
        subcommands: [Keygen.self, Create.self, Verify.self, Restore.self, Drill.self]
    )

    static var actor: AuditEvent.Actor { .init(user: BastionEnvironment.operatingSystemUser, method: "admin-cli") }

    /// `backup keygen`: a recovery key pair. Run it on the machine that keeps the private half
    /// (not the bastion); configure the public line as `backup.recovery_key`.
    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an offline recovery key pair (X25519); prints the public line for backup.recovery_key."
        )
        @Option(help: "Write the private key to this new file (mode 0600) instead of printing it.") var out: String?

        func run() throws {
            let key = try RecoveryKey.PrivateKey()
            if let out {
                let fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw Refusal(message: "cannot create \(out): \(String(cString: strerror(errno)))") }
                defer { close(fd) }
                try BackupFileCipher.writeAll(fd, Array((key.text + "\n").utf8), path: out)
                guard fsync(fd) == 0 else { throw Refusal(message: "cannot write \(out)") }
                print("# private key written to \(out): keep it offline, never on the bastion")
            } else {
                print("# private key: store it offline (a vault, paper); it is printed only this once")
                print(key.text)
            }
            print("# public key, for the bastion's configuration:")
            print("[backup]")
            print("recovery_key = \"\(key.publicKey.text)\"")
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Back up the database (online snapshot), key state and recordings, encrypted and signed (audited)."
        )
        @OptionGroup var options: ConfigOption
        @Option(help: "An empty or new directory (default: a new one under backup.dir).") var to: String?

        func run() throws {
            let environment = try Startup.open(options.config)
            let now = Date()
            guard let directory = to ?? environment.configuration.backup.directory.map({ $0 + "/bastion-" + Self.stamp(now) }) else {
                throw Refusal(message: "give --to DIR, or set backup.dir")
            }
            let summary: BackupWriter.Summary
            do { summary = try BackupWriter(environment: environment).create(into: directory, now: now) } catch {
                throw Refusal(message: "backup create: \(error)")
            }
            try environment.auditLog.append(AuditEvent(
                type: .backupCreate, time: now, actor: BackupCommand.actor,
                details: [
                    "backup": summary.manifest.id, "directory": directory, "files": String(summary.manifest.files.count),
                    "bytes": String(summary.bytes), "recordings": String(summary.recordings),
                    "recovery_key": summary.manifest.recovery?.fingerprint ?? "none",
                ]
            ))
            for warning in summary.warnings { FileHandle.standardError.write(Data("bastiond: warning: \(warning)\n".utf8)) }
            print("backup \(summary.manifest.id) written to \(directory): \(summary.manifest.files.count) files, \(summary.bytes) bytes, \(summary.recordings) recordings")
            print("signed by audit key \(summary.manifest.auditKeyFingerprint); recovery key \(summary.manifest.recovery?.fingerprint ?? "none")")
        }

        static func stamp(_ date: Date) -> String {
            AuditEvent.timestamp(date).replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
                .replacingOccurrences(of: ".", with: "")
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check a backup's signature and every file's size and SHA-256, with no key; exit 1 on any problem."
        )
        @Argument(help: "The backup directory.") var directory: String
        @Option(help: "The expected audit public key (OpenSSH line or .pub file, see `bastiond audit key`).") var publicKey: String?

        func run() throws {
            let pinned = try publicKey.map { try AuditCommand.Verify.loadKey($0).ed25519PublicKey! }
            let report = BackupVerifier.verify(directory: directory, pinned: pinned)
            let signer = report.manifest?.auditKeyFingerprint ?? "?"
            if report.isIntact {
                let pin = pinned == nil ? " (give --public-key to pin it)" : " (matches --public-key)"
                print("backup verify: OK \(directory): \(report.files) files, \(report.bytes) bytes, signed by audit key \(signer)\(pin)")
                return
            }
            print("backup verify: FAIL \(directory): \(report.problems.count) problems")
            for problem in report.problems { print("  \(problem)") }
            throw ExitCode(1)
        }
    }

    struct Restore: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decrypt a backup into an empty data directory (audited as backup.restore in the restored log).",
            discussion: """
                With --recovery-key, needs nothing of the old installation and restores the key files too. Without it, \
                the configured installation's master key (its HSM with pkcs11) opens the backup, and the private key \
                files are not restored.
                """
        )
        @OptionGroup var options: ConfigOption
        @Argument(help: "The backup directory.") var directory: String
        @Option(help: "The data directory to create (must be absent or empty).") var to: String
        @Option(help: "Where to put the recordings (default: the recording directory the backup was made from).") var recordings: String?
        @Option(help: "The offline recovery private key file (from `backup keygen`).") var recoveryKey: String?
        @Option(help: "The audit public key the backup must be signed by (OpenSSH line or .pub file); required with --recovery-key.")
        var publicKey: String?

        func run() throws {
            var pinned = try publicKey.map { try AuditCommand.Verify.loadKey($0).ed25519PublicKey! }
            let keys: BackupKeySource
            var signer: (any Ed25519Signer)?
            if let recoveryKey {
                // The recovery public key is public: anyone could wrap a forged backup to it.
                // Only the audit key's signature says the backup is this installation's.
                guard pinned != nil else {
                    throw Refusal(message: "backup restore: --recovery-key needs --public-key (the audit public key kept with the recovery key, `bastiond audit key`)")
                }
                keys = .recovery(try BackupCommand.loadRecoveryKey(recoveryKey))
            } else {
                let configuration = try Startup.loadConfiguration(options.config)
                // Loading keys creates missing ones: never make fresh keys where the old ones are gone.
                let keyFile = configuration.keys.provider == .file ? KeyMaterial.FileName.masterKey : KeyMaterial.FileName.hostKey
                guard FileManager.default.fileExists(atPath: configuration.server.dataDirectory + "/" + keyFile) else {
                    throw Refusal(message: "backup restore: this installation's keys are not at hand (\(configuration.server.dataDirectory)/\(keyFile) is missing): give --recovery-key")
                }
                let material: KeyMaterial
                do { material = try KeyMaterial.load(configuration) } catch { throw Refusal(message: "cannot load the keys: \(error)") }
                keys = .masterKeys(material.masterKeys)
                signer = material.auditKey
                pinned = pinned ?? material.auditKey.publicKey
            }
            let manifestRecordings = (FileManager.default.contents(atPath: directory + "/" + BackupManifest.fileName))
                .flatMap { try? BackupManifest.decode(Array($0)) }?.recordingDirectory
            let recordingDirectory = recordings ?? manifestRecordings ?? (to + "/recordings")
            let outcome: BackupRestorer.Outcome
            do {
                outcome = try BackupRestorer.restore(
                    backup: directory, dataDirectory: to, recordingDirectory: recordingDirectory, keys: keys, pinned: pinned
                )
            } catch {
                throw Refusal(message: "backup restore: \(error)")
            }
            if signer == nil, let text = try? String(contentsOfFile: to + "/" + KeyMaterial.FileName.auditKey, encoding: .utf8) {
                signer = try? OpenSSHPrivateKeyFile.decodeEd25519(text)
            }
            let recorded = try BackupRestorer.recordRestore(outcome, dataDirectory: to, signer: signer, actor: BackupCommand.actor, now: Date())
            print("restored backup \(outcome.manifest.id) (made \(outcome.manifest.created)) into \(to): \(outcome.files) files, \(outcome.recordings) recordings in \(recordingDirectory)")
            if !outcome.skipped.isEmpty {
                print("not restored (only the recovery key opens them): \(outcome.skipped.joined(separator: ", ")); copy the key files from your key backup")
            }
            if outcome.manifest.database != "sqlite" { print("the database is not in this backup: restore PostgreSQL with your own tooling") }
            if !recorded { print("backup.restore not recorded in the restored log: the audit key that signed the backup is not at hand") }
            if recordingDirectory != outcome.manifest.recordingDirectory {
                print("note: session.end records name recordings under \(outcome.manifest.recordingDirectory); replay expects them there")
            }
        }
    }

    struct Drill: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restore a backup into a scratch directory, verify it, print PASS/FAIL and the time taken (audited)."
        )
        @OptionGroup var options: ConfigOption
        @Argument(help: "The backup directory (default: the newest under backup.dir).") var directory: String?
        @Option(help: "Also open the key files with this offline recovery private key.") var recoveryKey: String?

        func run() throws {
            let environment = try Startup.open(options.config)
            let recovery = try recoveryKey.map(BackupCommand.loadRecoveryKey)
            guard let directory = directory ?? environment.configuration.backup.directory.flatMap(BackupDrill.newestBackup(in:)) else {
                throw Refusal(message: "give the backup directory, or set backup.dir")
            }
            let result = try BackupDrill(environment: environment).run(backup: directory, recoveryKey: recovery, actor: BackupCommand.actor)
            print(result.text)
            if !result.passed { throw ExitCode(1) }
        }
    }

    static func loadRecoveryKey(_ path: String) throws -> RecoveryKey.PrivateKey {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw Refusal(message: "cannot read \(path)") }
        do { return try RecoveryKey.PrivateKey(text: text) } catch { throw Refusal(message: "\(path): \(error)") }
    }
}
