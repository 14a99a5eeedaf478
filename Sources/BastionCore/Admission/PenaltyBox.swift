public import Foundation

/// Per-source penalties, as OpenSSH 9.8's `PerSourcePenalties`: what a connection did wrong
/// adds time to its source's penalty; once the penalty exceeds `minimum` the source is
/// refused until it runs out. One slip (a mistyped code) costs nothing; a guessing or
/// flooding source is shut out for a time that grows with what it keeps doing, up to `maximum`.
public struct PenaltyBox: Sendable {
    /// What a connection did that earns its source a penalty.
    public enum Cause: String, Sendable, CaseIterable {
        /// Authentication was tried and failed, and never succeeded on that connection.
        case authFail = "authfail"
        /// The connection closed before any authentication attempt.
        case noAuth = "noauth"
        /// Still unauthenticated at `ssh.login_grace_time`.
        case graceExceeded = "grace-exceeded"
        /// A protocol error: a bad banner, packet or key exchange message.
        case malformed
    }

    /// `ssh.penalties`, in sshd's words: `authfail:5s noauth:1s grace-exceeded:10s malformed:30s min:15s max:10m`.
    public struct Settings: Sendable, Equatable {
        public var durations: [Cause: TimeInterval]
        public var minimum: TimeInterval
        public var maximum: TimeInterval
        /// `ssh.penalty_exempt`: sources never penalised (health checks, trusted NAT gateways).
        public var exempt: CIDRList?
        /// Sources remembered at most; beyond it new sources are not penalised (sshd's
        /// `overflow:permissive`), so memory stays bounded under a spoofed-source flood.
        public var maxSources: Int

        public init(
            durations: [Cause: TimeInterval] = [.authFail: 5, .noAuth: 1, .graceExceeded: 10, .malformed: 30], minimum: TimeInterval = 15,
            maximum: TimeInterval = 600, exempt: CIDRList? = nil, maxSources: Int = 65_536
        ) {
            self.durations = durations
            self.minimum = minimum
            self.maximum = maximum
            self.exempt = exempt
            self.maxSources = maxSources
        }

        public static let defaults = Settings()

        /// Parses `name:duration` words separated by spaces; names not given keep their default.
        public static func parse(_ text: String, exempt: CIDRList?) -> Result<Settings, ParseError> {
            var settings = Settings(exempt: exempt)
            for word in text.split(separator: " ") {
                let parts = word.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, let seconds = try? DurationText.parse(String(parts[1])) else {
                    return .failure(ParseError(reason: "\"\(word)\" is not NAME:DURATION (like authfail:5s)"))
                }
                switch String(parts[0]) {
                case "min": settings.minimum = seconds
                case "max": settings.maximum = seconds
                case let name:
                    guard let cause = Cause(rawValue: name) else {
                        let known = (Cause.allCases.map(\.rawValue) + ["min", "max"]).joined(separator: ", ")
                        return .failure(ParseError(reason: "unknown penalty \"\(name)\" (known: \(known))"))
                    }
                    settings.durations[cause] = seconds
                }
            }
            guard settings.maximum >= settings.minimum else { return .failure(ParseError(reason: "max must be at least min")) }
            return .success(settings)
        }

        public struct ParseError: Error, Sendable, Equatable {
            public var reason: String
        }
    }

    /// A source whose penalty has just become active: audited once for the period.
    public struct Activation: Sendable, Equatable {
        public var source: String
        public var cause: Cause
        public var until: Date

        public init(source: String, cause: Cause, until: Date) {
            self.source = source
            self.cause = cause
            self.until = until
        }
    }

    private struct Entry {
        var expiry: Date
        var active: Bool
    }

    public let settings: Settings
    private var entries: [String: Entry] = [:]

    public init(settings: Settings) {
        self.settings = settings
    }

    /// Adds `cause`'s time to `source`'s penalty; returns the activation when the source
    /// crosses `minimum` now (and only then: one record per source per period).
    public mutating func record(_ cause: Cause, source: String, now: Date) -> Activation? {
        let duration = settings.durations[cause] ?? 0
        guard duration > 0, settings.exempt?.contains(address: source) != true else { return nil }
        var entry = entries[source] ?? Entry(expiry: now, active: false)
        guard entries[source] != nil || entries.count < settings.maxSources else { return nil }
        if entry.expiry < now { entry = Entry(expiry: now, active: false) }
        entry.expiry = min(entry.expiry.addingTimeInterval(duration), now.addingTimeInterval(settings.maximum))
        var activation: Activation?
        if !entry.active, entry.expiry.timeIntervalSince(now) >= settings.minimum {
            entry.active = true
            activation = Activation(source: source, cause: cause, until: entry.expiry)
        }
        entries[source] = entry
        return activation
    }

    /// Whether connections from `source` are refused now.
    public func isPenalised(_ source: String, now: Date) -> Bool {
        guard let entry = entries[source] else { return false }
        return entry.active && entry.expiry > now
    }

    /// Forgets penalties that ran out.
    public mutating func expire(now: Date) {
        entries = entries.filter { $0.value.expiry > now }
    }

    /// Sources refused now (for `/metrics`).
    public func penalisedCount(now: Date) -> Int {
        entries.values.count { $0.active && $0.expiry > now }
    }
}
