import ArgumentParser
import BastionApp
import BastionCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `bastiond replay FILE|ID`: plays a recording on the bastion host itself, with the same
/// player as `ssh … replay` (``CastPlayback``), or streams the file (`--raw`).
///
/// A session id is looked up in the catalog and its recording verified against its
/// `session.end` record, like over SSH. A file given by path is verified only when it is a
/// known session's recording; any other file is played as is, and the output says so. Every
/// use is audited (via "cli"); if the record cannot be written, nothing is played.
struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay", abstract: "Play a session's recording (verified against the audit log), or a .cast file.",
        discussion: "Keys while playing, when stdin is a terminal: space pause, + / - speed, ] next marker, q quit."
    )

    @OptionGroup var options: ConfigOption
    @Argument(help: "A session id (see `ssh … sessions`) or the path of a .cast file.") var recording: String
    @Option(help: "Playback speed.") var speed: Double = 1
    @Option(help: "Cap every pause at this many seconds.") var idleLimit: Double?
    @Option(help: "Start this far in: HH:MM:SS, MM:SS or seconds.") var from: String?
    @Flag(help: "Write the asciicast text itself (a sealed recording decrypted), for asciinema.") var raw = false
    @Flag(help: "Play even when the recording does not match its audit record (audited).") var force = false

    func validate() throws {
        guard speed > 0, speed <= 100 else { throw ValidationError("--speed must be above 0, at most 100") }
        if let idleLimit, idleLimit <= 0 { throw ValidationError("--idle-limit must be above 0") }
        if let from, BastionCommand.clockTime(from) == nil { throw ValidationError("--from must be HH:MM:SS, MM:SS or seconds") }
    }

    func run() throws {
        let environment = try Startup.open(options.config)
        let archive = SessionArchiveService(environment: environment)
        let now = Date()
        let isFile = recording.contains("/") || recording.hasSuffix(".cast") || FileManager.default.fileExists(atPath: recording)

        // The session this recording belongs to, if any: by id, or a file whose path is a
        // known session's recording (named SESSION_ID.cast).
        let candidate = isFile ? URL(fileURLWithPath: recording).deletingPathExtension().lastPathComponent : recording
        var session: IndexedSession?
        do { session = try archive.session(id: SessionID(rawValue: candidate)) } catch { throw Refusal(message: "cannot read the session catalog: \(error)") }
        if isFile, let known = session, Self.samePath(known.recording, recording) == false { session = nil }
        guard session != nil || isFile else {
            Self.complain("no ended session \(recording) (see `ssh … sessions`)")
            throw ExitCode(1)
        }

        var details = ["via": "cli", "forced": "false"]
        let path: String
        if let session {
            details["session_id"] = session.id.rawValue
            switch archive.verify(session) {
            case .intact(let verified):
                path = verified
            case .refused(let reason):
                try environment.auditLog.append(AuditEvent(
                    type: .recordingIntegrity, time: now, outcome: .failure, actor: AuditCommand.auditor, session: .init(id: session.id, login: session.login),
                    target: session.target, reason: reason, details: ["session_id": session.id.rawValue, "via": "cli", "forced": force ? "true" : "false"]
                ))
                guard force else {
                    Self.complain("\(reason); replay refused (use --force to play it anyway, which is audited)")
                    throw ExitCode(1)
                }
                guard let recorded = session.recording else {
                    Self.complain("session \(session.id): there is no recording to play")
                    throw ExitCode(1)
                }
                path = recorded
                details["forced"] = "true"
            }
        } else {
            path = recording
            details["file"] = recording
            Self.complain("\(recording) is not a known session's recording: it is not verified against the audit log")
        }

        try environment.auditLog.append(AuditEvent(
            type: raw ? .sessionExport : .sessionReplay, time: now, actor: AuditCommand.auditor,
            session: session.map { .init(id: $0.id, login: $0.login) }, target: session?.target, details: details
        ))

        // A sealed recording is opened in memory; what is played or written is its asciicast text.
        let data: Data
        do { data = Data(try environment.recordingKeys.plaintext(atPath: path)) } catch {
            Self.complain("cannot read \(path): \(error)")
            throw ExitCode(1)
        }
        if raw {
            FileHandle.standardOutput.write(data)
            return
        }
        var playback: CastPlayback
        do { playback = try CastPlayback(cast: data, speed: speed, idleLimit: idleLimit) } catch {
            Self.complain("\(path): \(error)")
            throw ExitCode(1)
        }
        let name = session?.id.rawValue ?? playback.header.sessionID ?? path
        let who = [playback.header.user, playback.header.login.map { "\($0)@\(playback.header.target ?? "?")" }].compactMap { $0 }.joined(separator: " ")
        let keyboard = KeyboardInput()
        defer { keyboard?.restore() }
        Self.write("replaying \(name)\(who.isEmpty ? "" : " (\(who))")" + (keyboard == nil ? " (no keys: stdin is not a terminal)\n" : ", q quits\n"))
        let stopped = Self.play(&playback, from: from.flatMap(BastionCommand.clockTime) ?? 0, keyboard: keyboard)
        Self.write("\u{1B}[0m\u{1B}[?25h\n" + (stopped ? "replay of \(name) stopped\n" : "end of session \(name)\n"))
    }

    /// Plays to stdout; true when stopped early with `q` or Ctrl-C.
    private static func play(_ playback: inout CastPlayback, from: Double, keyboard: KeyboardInput?) -> Bool {
        write(playback.start(at: from, now: Date()))
        while !playback.isFinished {
            write(playback.advance(now: Date()))
            guard !playback.isFinished else { break }
            let wait = min(playback.delayUntilNext(now: Date()) ?? 0.1, 0.1)
            guard let keyboard else {
                usleep(UInt32(max(wait, 0.001) * 1_000_000))
                continue
            }
            for byte in keyboard.read(timeout: wait) {
                let now = Date()
                switch byte {
                case UInt8(ascii: "q"), UInt8(ascii: "Q"), 0x03: return true
                case UInt8(ascii: " "): playback.togglePause(now: now)
                case UInt8(ascii: "+"), UInt8(ascii: "="): playback.changeSpeed(by: 2, now: now)
                case UInt8(ascii: "-"), UInt8(ascii: "_"): playback.changeSpeed(by: 0.5, now: now)
                case UInt8(ascii: "]"): if let jump = playback.skipToNextMarker(now: now) { write(jump.output) }
                default: continue
                }
            }
        }
        return false
    }

    private static func samePath(_ a: String?, _ b: String) -> Bool {
        guard let a else { return false }
        return URL(fileURLWithPath: a).resolvingSymlinksInPath().path == URL(fileURLWithPath: b).resolvingSymlinksInPath().path
    }

    private static func write(_ text: String) { write(Array(text.utf8)) }

    private static func write(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        FileHandle.standardOutput.write(Data(bytes))
    }

    private static func complain(_ message: String) {
        FileHandle.standardError.write(Data("bastiond: \(message)\n".utf8))
    }
}

/// The terminal on stdin in non-canonical mode without echo or signals (so `q`, space and
/// Ctrl-C arrive as bytes); restored by ``restore()``. Nil when stdin is not a terminal.
private final class KeyboardInput {
    private var saved = termios()

    init?() {
        guard isatty(STDIN_FILENO) == 1, tcgetattr(STDIN_FILENO, &saved) == 0 else { return nil }
        var raw = saved
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ISIG)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 0
            cc[Int(VTIME)] = 0
        }
        guard tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0 else { return nil }
    }

    /// Waits up to `timeout` seconds for keys; what was typed, possibly nothing.
    func read(timeout: TimeInterval) -> [UInt8] {
        var descriptor = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        guard poll(&descriptor, 1, Int32(max(timeout, 0) * 1000)) > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: 64)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(STDIN_FILENO, $0.baseAddress, $0.count) }
        return count > 0 ? Array(buffer[0..<count]) : []
    }

    func restore() {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
    }
}
