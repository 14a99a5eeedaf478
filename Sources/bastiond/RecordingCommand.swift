import ArgumentParser
import BastionApp
import BastionCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `bastiond recording export ID --to FILE`: a session's recording as a plain `.cast` file for
/// stock asciinema, verified against its `session.end` record first and audited
/// (`recording.export`) before a byte is written.
struct RecordingCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recording", abstract: "Session recordings (sealed at rest).", subcommands: [Export.self]
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
            let archive = SessionArchiveService(environment: environment)
            guard let found = try archive.session(id: SessionID(rawValue: session)) else {
                throw Refusal(message: "no ended session \(session) (see `ssh … sessions`)")
            }
            let text: Data
            switch archive.readVerified(found) {
            case .success(let data): text = data
            case .failure(let refusal): throw Refusal(message: "\(refusal.reason); export refused")
            }
            try environment.auditLog.append(AuditEvent(
                type: .recordingExport, time: environment.clock.now(), actor: AuditCommand.auditor,
                session: .init(id: found.id, login: found.login), target: found.target,
                details: ["session_id": found.id.rawValue, "to": to]
            ))
            let fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw Refusal(message: "cannot create \(to): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            let written = text.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard written == text.count, fsync(fd) == 0 else { throw Refusal(message: "cannot write \(to): \(String(cString: strerror(errno)))") }
            print("wrote \(to) (\(text.count) bytes, session \(found.id))")
        }
    }
}
