public import Foundation

/// Plays an asciicast v2 recording against a clock, without knowing where the bytes go: the
/// SSH `replay` conversation and `bastiond replay` both drive it.
///
/// Times are the recording's, with every gap capped at the idle limit (asciinema's
/// `--idle-time-limit`); playback moves through them at `speed` times the wall clock. Only
/// output (`"o"`) is played: input (`"i"`) may hold typed secrets and the terminal already
/// shows what the target echoed. Markers (`"m"`) are places to jump to.
public struct CastPlayback: Sendable {
    /// What the header says about the session (Bastion writes its own `bastion` object).
    public struct Header: Sendable, Equatable {
        public var width: Int
        public var height: Int
        public var startedAt: Date?
        public var sessionID: String?
        public var user: String?
        public var login: String?
        public var target: String?

        public init(
            width: Int = 80, height: Int = 24, startedAt: Date? = nil, sessionID: String? = nil, user: String? = nil, login: String? = nil,
            target: String? = nil
        ) {
            self.width = width
            self.height = height
            self.startedAt = startedAt
            self.sessionID = sessionID
            self.user = user
            self.login = login
            self.target = target
        }
    }

    /// One played event: output bytes, or a marker's label.
    public struct Event: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            case output([UInt8])
            case marker(String)
        }

        /// Seconds since the recording started.
        public var time: Double
        public var kind: Kind

        public init(time: Double, kind: Kind) {
            self.time = time
            self.kind = kind
        }

        public static func output(_ time: Double, _ text: String) -> Event { Event(time: time, kind: .output(Array(text.utf8))) }
        public static func marker(_ time: Double, _ label: String) -> Event { Event(time: time, kind: .marker(label)) }
    }

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// The slowest and fastest speeds `+` and `-` reach.
    public static let speedRange = 1.0 / 64...100.0

    public let header: Header
    public let events: [Event]
    public private(set) var speed: Double
    public private(set) var isPaused = false
    /// Each event's time with the gaps before it capped at the idle limit.
    private let positions: [Double]
    private let idleLimit: Double?
    private var next = 0
    /// Playback position (capped time) at a wall-clock instant; nil until ``start(at:now:)``.
    private var anchor: (wall: Date, position: Double)?

    public init(header: Header = Header(), events: [Event], speed: Double = 1, idleLimit: Double? = nil) {
        self.header = header
        self.events = events
        self.speed = min(max(speed, Self.speedRange.lowerBound), Self.speedRange.upperBound)
        self.idleLimit = idleLimit
        var positions: [Double] = []
        positions.reserveCapacity(events.count)
        var previous = (time: 0.0, position: 0.0)
        for event in events {
            // A tampered file may go back in time: never negative gaps.
            let position = previous.position + Self.cap(max(0, event.time - previous.time), idleLimit)
            positions.append(position)
            previous = (max(previous.time, event.time), position)
        }
        self.positions = positions
    }

    /// Parses a `.cast` file: the header, then the output and marker events. Lines that do not
    /// parse (a truncated last line) are skipped; a missing header is an error.
    public init(cast data: Data, speed: Double = 1, idleLimit: Double? = nil) throws(ParseError) {
        var lines = data.split(separator: UInt8(ascii: "\n"))[...]
        guard let first = lines.popFirst(), let object = try? JSONSerialization.jsonObject(with: Data(first)) as? [String: Any],
            object["version"] as? Int == 2
        else { throw ParseError(description: "not an asciicast v2 file (no header line)") }
        var header = Header(width: object["width"] as? Int ?? 80, height: object["height"] as? Int ?? 24)
        header.startedAt = (object["timestamp"] as? NSNumber).map { Date(timeIntervalSince1970: $0.doubleValue) }
        if let bastion = object["bastion"] as? [String: Any] {
            header.sessionID = bastion["session_id"] as? String
            header.user = bastion["user"] as? String
            header.login = bastion["login"] as? String
            header.target = bastion["target"] as? String
        }
        var events: [Event] = []
        for line in lines {
            guard let array = try? JSONSerialization.jsonObject(with: Data(line)) as? [Any], array.count == 3,
                let time = (array[0] as? NSNumber)?.doubleValue, time.isFinite, let code = array[1] as? String, let text = array[2] as? String
            else { continue }
            switch code {
            case "o": events.append(.output(time, text))
            case "m": events.append(.marker(time, text))
            default: continue
            }
        }
        self.init(header: header, events: events, speed: speed, idleLimit: idleLimit)
    }

    public var isFinished: Bool { next == events.count }

    /// Begins playing `from` seconds into the recording (its own times, not capped ones):
    /// returns at once the output of every event before it, so the screen is as it was then.
    public mutating func start(at from: Double = 0, now: Date) -> [UInt8] {
        var position = Self.cap(max(0, from), idleLimit)
        var bytes: [UInt8] = []
        while next < events.count, events[next].time < from {
            bytes += events[next].outputBytes
            position = positions[next] + Self.cap(max(0, from - events[next].time), idleLimit)
            next += 1
        }
        anchor = (now, position)
        return bytes
    }

    /// The output of every event due by `now`.
    public mutating func advance(now: Date) -> [UInt8] {
        let position = self.position(at: now)
        var bytes: [UInt8] = []
        while next < events.count, positions[next] <= position {
            bytes += events[next].outputBytes
            next += 1
        }
        return bytes
    }

    /// Seconds of wall-clock time until the next event is due (nil when paused or finished).
    public func delayUntilNext(now: Date) -> TimeInterval? {
        guard !isPaused, next < events.count else { return nil }
        return max(0, (positions[next] - position(at: now)) / speed)
    }

    public mutating func togglePause(now: Date) {
        reanchor(now: now)
        isPaused.toggle()
    }

    /// Multiplies the speed by `factor` (2 for `+`, 0.5 for `-`), within ``speedRange``.
    public mutating func changeSpeed(by factor: Double, now: Date) {
        reanchor(now: now)
        speed = min(max(speed * factor, Self.speedRange.lowerBound), Self.speedRange.upperBound)
    }

    /// Jumps to the next marker: the output up to it at once, then timing goes on from there.
    /// Nil (and nothing changes) when no marker is ahead.
    public mutating func skipToNextMarker(now: Date) -> (output: [UInt8], label: String)? {
        guard let index = events[next...].firstIndex(where: { if case .marker = $0.kind { true } else { false } }),
            case .marker(let label) = events[index].kind
        else { return nil }
        var bytes: [UInt8] = []
        while next <= index {
            bytes += events[next].outputBytes
            next += 1
        }
        anchor = (now, positions[index])
        return (bytes, label)
    }

    /// Where playback is at `now`, in capped recording seconds.
    public func position(at now: Date) -> Double {
        guard let anchor else { return 0 }
        return isPaused ? anchor.position : anchor.position + max(0, now.timeIntervalSince(anchor.wall)) * speed
    }

    private mutating func reanchor(now: Date) {
        anchor = (now, position(at: now))
    }

    private static func cap(_ gap: Double, _ limit: Double?) -> Double {
        limit.map { min(gap, $0) } ?? gap
    }
}

extension CastPlayback.Event {
    var outputBytes: [UInt8] {
        if case .output(let bytes) = kind { bytes } else { [] }
    }
}
