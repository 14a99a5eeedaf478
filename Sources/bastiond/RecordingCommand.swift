import ArgumentParser
import BastionApp
import BastionCore
import BastionCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `bastiond recording export ID --to FILE`: a session's recording as a plain `.cast` file for
/// stock asciinema, verified against its `session.end` record first and audited
/// (`recording.export`) before a byte is written.
struct RecordingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recording", abstract: "Session recordings (sealed at rest).", subcommands: [Export.self, Streams.self]
    )

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a session's recording, decrypted, as a plain .cast file (audited)."
        )
        @OptionGroup var options: ConfigOption
        @Argument(help: "The session id (see `ssh … sessions`).") var session: String
        @Option(help: "The file to create (never replaced; mode 0600).") var to: String

        func run() throws {
            let environment = try Startup.open(options.config)
            let (found, text) = try RecordingCommand.verifiedRecording(session, in: SessionArchiveService(environment: environment))
            try environment.auditLog.append(AuditEvent(
                type: .recordingExport, time: environment.clock.now(), actor: AuditCommand.auditor,
                session: .init(id: found.id, login: found.login), target: found.target,
                details: ["session_id": found.id.rawValue, "to": to]
            ))
            try RecordingCommand.writeNewFile(to, text)
            print("wrote \(to) (\(text.count) bytes, session \(found.id))")
        }
    }

    /// `bastiond recording streams ID --to DIR`: the exact stdin, stdout and stderr of a
    /// channel without a terminal, kept with `recording.capture_streams = true`; each file is
    /// checked against the digests `session.end` recorded before it is written.
    struct Streams: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a session's captured stdin, stdout and stderr (recording.capture_streams) into a new directory (audited)."
        )
        @OptionGroup var options: ConfigOption
        @Argument(help: "The session id (see `ssh … sessions`).") var session: String
        @Option(help: "The directory to create (mode 0700) for stdin, stdout and stderr.") var to: String

        func run() throws {
            let environment = try Startup.open(options.config)
            // The recording must be the one session.end describes; the digests come from that record.
            let (found, _) = try RecordingCommand.verifiedRecording(session, in: SessionArchiveService(environment: environment))
            guard let recording = found.recording else {
                throw Refusal(message: "no ended session \(session) with a recording (see `ssh … sessions`)")
            }
            guard FileManager.default.fileExists(atPath: CapturedStreams.path(castPath: recording)) else {
                throw Refusal(message: "session \(session) has no stream capture (recording.capture_streams was off, or it had a terminal)")
            }
            let streams: CapturedStreams
            do { streams = try CapturedStreams.read(castPath: recording, keys: environment.recordingKeys) } catch {
                throw Refusal(message: "\(error)")
            }
            let ended = try environment.auditLog.search(AuditQuery(type: AuditEventType.sessionEnd.name, session: found.id.rawValue)).last
            let details = ended.flatMap { try? AuditEvent(canonicalJSON: Array($0.json.utf8)) }?.details ?? [:]
            let files = [("stdin", streams.stdin), ("stdout", streams.stdout), ("stderr", streams.stderr)]
            for (name, bytes) in files {
                let digest = Hex.string(SHA256.hash(bytes))
                guard details["\(name)_sha256"] == digest else {
                    throw Refusal(message: "the captured \(name) does not match the SHA-256 in session.end; export refused")
                }
            }
            try environment.auditLog.append(AuditEvent(
                type: .recordingExport, time: environment.clock.now(), actor: AuditCommand.auditor,
                session: .init(id: found.id, login: found.login), target: found.target,
                details: ["session_id": found.id.rawValue, "to": to, "streams": "stdin,stdout,stderr"]
            ))
            guard mkdir(to, 0o700) == 0 else { throw Refusal(message: "cannot create \(to): \(String(cString: strerror(errno)))") }
            for (name, bytes) in files {
                let path = to + "/" + name
                try RecordingCommand.writeNewFile(path, bytes)
                print("wrote \(path) (\(bytes.count) bytes, sha256 \(Hex.string(SHA256.hash(bytes))))")
            }
        }
    }

    /// The ended session `id` and its recording's text, checked against `session.end`; a
    /// refusal (one line) when there is no such session or the recording does not verify.
    static func verifiedRecording(_ id: String, in archive: SessionArchiveService) throws -> (IndexedSession, Data) {
        guard let found = try archive.session(id: SessionID(rawValue: id)) else {
            throw Refusal(message: "no ended session \(id) (see `ssh … sessions`)")
        }
        switch archive.readVerified(found) {
        case .success(let text): return (found, text)
        case .failure(let refusal): throw Refusal(message: "\(refusal.reason); export refused")
        }
    }

    /// Creates `path` (never replacing a file; mode 0600) with `bytes`, fsynced.
    static func writeNewFile(_ path: String, _ bytes: some ContiguousBytes & Collection) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Refusal(message: "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else { throw Refusal(message: "cannot write \(path): \(String(cString: strerror(errno)))") }
    }
}
