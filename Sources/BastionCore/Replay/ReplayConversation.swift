public import Foundation

/// `replay ID`: plays a recording into the auditor's terminal with its original timing
/// (see ``CastPlayback``), driven by the connection's ticks (about ten a second, so events
/// due within a tick are written together). Keys: space pauses, `+`/`-` double or halve the
/// speed, `]` jumps to the next marker, `q` or Ctrl-C quits.
///
/// Everything is written verbatim: the recording already holds what a terminal got, and the
/// few lines of Bastion's own end in CR LF.
public final class ReplayConversation: CommandConversation {
    /// How playback starts.
    public struct Options: Sendable, Equatable {
        public var speed: Double
        public var idleLimit: Double?
        public var from: Double

        public init(speed: Double = 1, idleLimit: Double? = nil, from: Double = 0) {
            self.speed = speed
            self.idleLimit = idleLimit
            self.from = from
        }
    }

    private let sessionID: SessionID
    private let path: String
    private let keys: RecordingKeys?
    private let banner: String
    private let options: Options
    private var playback: CastPlayback?
    private var done = false

    /// Attributes off and cursor shown again: a recording may end mid-colour or with the cursor hidden.
    static let resetTerminal = Array("\u{1B}[0m\u{1B}[?25h".utf8)
    static let clearScreen = Array("\u{1B}[H\u{1B}[2J".utf8)

    public init(sessionID: SessionID, path: String, keys: RecordingKeys? = nil, banner: String, options: Options) {
        self.sessionID = sessionID
        self.path = path
        self.keys = keys
        self.banner = banner
        self.options = options
    }

    public func start(now: Date) -> CommandStep {
        let data: Data
        do {
            data = Data(try keys.plaintext(atPath: path))
            playback = try CastPlayback(cast: data, speed: options.speed, idleLimit: options.idleLimit)
        } catch {
            done = true
            return CommandStep(stderr: "bastion: session \(sessionID): cannot read the recording\n", exitStatus: 1)
        }
        var bytes = Self.clearScreen + Array("\(banner)\r\n".utf8)
        bytes += playback?.start(at: options.from, now: now) ?? []
        return step(bytes, now: now)
    }

    public func receive(_ input: [UInt8], now: Date) -> CommandStep {
        guard !done, var playback else { return .nothing }
        var bytes: [UInt8] = []
        for byte in input {
            switch byte {
            case UInt8(ascii: "q"), UInt8(ascii: "Q"):
                self.playback = playback
                return finish(bytes + Array("\r\nreplay of session \(sessionID) stopped\r\n".utf8), status: 0)
            case 0x03:
                self.playback = playback
                return finish(bytes + Array("\r\nreplay of session \(sessionID) interrupted\r\n".utf8), status: 130)
            case UInt8(ascii: " "):
                playback.togglePause(now: now)
            case UInt8(ascii: "+"), UInt8(ascii: "="):
                playback.changeSpeed(by: 2, now: now)
            case UInt8(ascii: "-"), UInt8(ascii: "_"):
                playback.changeSpeed(by: 0.5, now: now)
            case UInt8(ascii: "]"):
                if let jump = playback.skipToNextMarker(now: now) { bytes += jump.output }
            default:
                continue
            }
        }
        self.playback = playback
        return step(bytes, now: now)
    }

    public func tick(now: Date) -> CommandStep {
        guard !done else { return .nothing }
        return step([], now: now)
    }

    /// `ssh -t … replay` with an empty stdin closes it at once: playback goes on.
    public func endOfInput(now: Date) -> CommandStep { .nothing }

    public func interrupt(now: Date) -> CommandStep {
        guard !done else { return .nothing }
        return finish(Array("\r\nreplay of session \(sessionID) interrupted\r\n".utf8), status: 130)
    }

    /// `bytes`, then whatever is due; the end line and exit once everything is played.
    private func step(_ bytes: [UInt8], now: Date) -> CommandStep {
        guard var playback else { return .nothing }
        var bytes = bytes
        if !playback.isPaused { bytes += playback.advance(now: now) }
        self.playback = playback
        guard playback.isFinished else { return bytes.isEmpty ? .nothing : .verbatim(bytes) }
        return finish(bytes + Array("\r\nend of session \(sessionID)\r\n".utf8), status: 0)
    }

    private func finish(_ bytes: [UInt8], status: Int32) -> CommandStep {
        done = true
        return .verbatim(bytes + Self.resetTerminal, exitStatus: status)
    }
}
