public import BastionCore
public import BastionCrypto
import Foundation

/// `bastiond backup verify`: checks a backup without any secret. The manifest's signature
/// (by the audit key it names and, when given, the one the operator pins), and every file
/// present, of the recorded size and SHA-256, with nothing extra: a flipped byte, a
/// truncation, a missing or an added file, or an edited manifest each give a problem line
/// naming the file.
public enum BackupVerifier {
    public struct Report: Sendable {
        public var manifest: BackupManifest?
        public var problems: [String] = []
        public var files = 0
        public var bytes = 0
        public var isIntact: Bool { manifest != nil && problems.isEmpty }
    }

    public static func verify(directory: String, pinned: Ed25519PublicKey? = nil) -> Report {
        var report = Report()
        let manifestPath = directory + "/" + BackupManifest.fileName
        guard let manifestBytes = FileManager.default.contents(atPath: manifestPath).map(Array.init) else {
            report.problems.append("\(BackupManifest.fileName): missing or unreadable (not a backup, or an unfinished one)")
            return report
        }
        let manifest: BackupManifest
        do { manifest = try BackupManifest.decode(manifestBytes) } catch {
            report.problems.append(error.description)
            return report
        }
        report.manifest = manifest
        report.problems += signatureProblems(manifest: manifest, bytes: manifestBytes, directory: directory, pinned: pinned)

        var expected: Set<String> = [BackupManifest.fileName, BackupManifest.signatureFileName]
        for entry in manifest.files {
            let name = entry.path + BackupManifest.encryptedSuffix
            expected.insert(name)
            let path = directory + "/" + name
            guard FileManager.default.fileExists(atPath: path) else {
                report.problems.append("\(name): missing")
                continue
            }
            do {
                let actual = try BackupFileCipher.sha256(ofFile: path)
                report.files += 1
                report.bytes += actual.size
                if actual.size != entry.size {
                    report.problems.append("\(name): \(actual.size) bytes, the manifest says \(entry.size) (truncated or extended)")
                } else if !constantTimeEquals(Array(actual.sha256.utf8), Array(entry.sha256.utf8)) {
                    report.problems.append("\(name): SHA-256 \(actual.sha256) differs from the manifest's (altered)")
                }
            } catch {
                report.problems.append("\(name): \(error)")
            }
        }
        for name in (try? FileManager.default.subpathsOfDirectory(atPath: directory)) ?? [] {
            var status = stat()
            guard lstat(directory + "/" + name, &status) == 0, (status.st_mode & S_IFMT) != S_IFDIR else { continue }
            if !expected.contains(name) { report.problems.append("\(name): not in the manifest") }
        }
        report.problems.sort()
        return report
    }

    /// The manifest's signature against the audit key it names, and that key against `pinned`.
    static func signatureProblems(manifest: BackupManifest, bytes: [UInt8], directory: String, pinned: Ed25519PublicKey?) -> [String] {
        guard let key = try? SSHPublicKey(authorizedKeysLine: manifest.auditKey), let ed25519 = key.ed25519PublicKey else {
            return ["\(BackupManifest.fileName): audit_key is not an ssh-ed25519 public key"]
        }
        var problems: [String] = []
        if let pinned, pinned != ed25519 {
            problems.append("\(BackupManifest.fileName): signed by audit key \(key.fingerprint), not the expected \(SSHPublicKey(ed25519: pinned).fingerprint)")
        }
        let signaturePath = directory + "/" + BackupManifest.signatureFileName
        guard let text = try? String(contentsOfFile: signaturePath, encoding: .utf8),
              let signature = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            return problems + ["\(BackupManifest.signatureFileName): missing or not base64"]
        }
        if !ed25519.isValidSignature(Array(signature), for: bytes) {
            problems.append("\(BackupManifest.signatureFileName): the signature does not verify (\(BackupManifest.fileName) altered, or not signed by audit key \(key.fingerprint))")
        }
        return problems
    }
}
