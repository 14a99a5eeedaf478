public import Foundation

/// Limits on unauthenticated connections (`ssh.max_startups`, `ssh.per_source_max_startups`).
///
/// sshd's names, so that operators recognise them, with a queue where sshd drops: a connection
/// over `start` waits its turn without a thread instead of being dropped at random.
public struct AdmissionSettings: Sendable, Equatable {
    /// Handshakes (key exchange and authentication) running at once, each on a thread.
    public var start: Int
    /// sshd's random-early-drop percentage. Read so that an sshd value loads; Bastion queues
    /// instead of dropping at random, so it changes nothing.
    public var rate: Int
    /// Unauthenticated connections in all, running and waiting; beyond it a newcomer from a
    /// lighter source pushes out the newest waiting connection of the heaviest one, or is dropped.
    public var full: Int
    /// Unauthenticated connections (running and waiting) one source address may hold.
    public var perSource: Int
    /// How long a handshake may go without finishing key exchange before a connection from
    /// another source, finding every slot taken, may push it out. Real clients exchange keys
    /// in milliseconds; idle, banner-only and stalled connections never do.
    public var stallAfter: TimeInterval
    /// `ssh.login_grace_time`: a connection still waiting (or not authenticated) after this is dropped.
    public var graceTime: TimeInterval

    public init(start: Int = 64, rate: Int = 30, full: Int = 4096, perSource: Int = 256, stallAfter: TimeInterval = 1, graceTime: TimeInterval = 60) {
        self.start = start
        self.rate = rate
        self.full = full
        self.perSource = perSource
        self.stallAfter = stallAfter
        self.graceTime = graceTime
    }

    public static let defaults = AdmissionSettings()

    /// Parses sshd's `START` or `START:RATE:FULL`; nil with a reason when malformed.
    public static func parseMaxStartups(_ text: String) -> Result<(start: Int, rate: Int, full: Int), MaxStartupsError> {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.allSatisfy({ $0 != nil }), parts.count == 1 || parts.count == 3 else {
            return .failure(MaxStartupsError(reason: "must be START or START:RATE:FULL (whole numbers), like \"64:30:4096\""))
        }
        let start = parts[0]!
        let (rate, full) = parts.count == 3 ? (parts[1]!, parts[2]!) : (100, start)
        guard (1...4096).contains(start) else { return .failure(MaxStartupsError(reason: "START must be from 1 to 4096")) }
        guard (0...100).contains(rate) else { return .failure(MaxStartupsError(reason: "RATE must be a percentage from 0 to 100")) }
        guard full >= start, full <= 65_536 else { return .failure(MaxStartupsError(reason: "FULL must be from START to 65536")) }
        return .success((start, rate, full))
    }

    public struct MaxStartupsError: Error, Sendable, Equatable {
        public var reason: String
    }
}
