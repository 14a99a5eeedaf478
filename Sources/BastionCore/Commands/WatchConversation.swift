public import Foundation

/// `watch ID`: the live session's output in the watcher's terminal, read-only.
///
/// Runs on the watcher's own connection thread, driven by its ticks (about ten a second: the
/// watcher's event loop polls with a 100 ms timeout, so output reaches the watcher within
/// about that). What the watcher types is never sent to the session: `q` leaves, Ctrl-C
/// interrupts, every other key is ignored. The session's own thread only ever offers bytes
/// to the ``SessionBroadcast``, so a slow watcher loses output (with a notice) and never
/// slows the session.
public final class WatchConversation: CommandConversation {
    /// How a watch went, for its `session.watch_end` record.
    public struct Summary: Sendable, Equatable {
        /// `quit`, `interrupted`, `session ended` or `permission withdrawn`.
        public var end: String
        public var duration: TimeInterval
        public var bytes: Int
        public var skipped: Int

        public init(end: String, duration: TimeInterval, bytes: Int, skipped: Int) {
            self.end = end
            self.duration = duration
            self.bytes = bytes
            self.skipped = skipped
        }
    }

    private let broadcast: SessionBroadcast
    private let watcher: String
    private let onEnd: @Sendable (Summary) -> Void
    /// Asked once a second: a policy reload that takes the watcher's auditor role away ends the watch.
    private let stillAllowed: () -> Bool
    private var lastCheck = Date.distantPast
    private var id: Int?
    private var startedAt = Date()
    private var bytes = 0
    private var skipped = 0
    private var done = false

    public init(
        broadcast: SessionBroadcast, watcher: String, stillAllowed: @escaping () -> Bool = { true }, onEnd: @escaping @Sendable (Summary) -> Void
    ) {
        self.broadcast = broadcast
        self.watcher = watcher
        self.stillAllowed = stillAllowed
        self.onEnd = onEnd
    }

    deinit {
        if let id { broadcast.detach(watcher: id) }
    }

    public func start(now: Date) -> CommandStep {
        startedAt = now
        let info = broadcast.info
        let banner = ReplayConversation.clearScreen
            + Array("watching \(info.id) (\(info.user) \(info.login)@\(info.target)), read-only, q leaves\r\n".utf8)
        guard let id = broadcast.attach(name: watcher) else {
            done = true
            return .verbatim(banner + Array("bastion: session \(info.id) ended\r\n".utf8), exitStatus: 0)
        }
        self.id = id
        return step(banner, now: now)
    }

    public func receive(_ input: [UInt8], now: Date) -> CommandStep {
        guard !done else { return .nothing }
        if input.contains(where: { $0 == UInt8(ascii: "q") || $0 == UInt8(ascii: "Q") }) {
            return finish("\r\nwatch of session \(broadcast.info.id) stopped\r\n", end: "quit", status: 0, now: now)
        }
        if input.contains(0x03) { return interrupt(now: now) }
        return .nothing
    }

    public func tick(now: Date) -> CommandStep {
        guard !done else { return .nothing }
        if abs(now.timeIntervalSince(lastCheck)) >= 1 {
            lastCheck = now
            if !stillAllowed() {
                return finish("\r\nbastion: you may no longer watch session \(broadcast.info.id)\r\n", end: "permission withdrawn", status: 1, now: now)
            }
        }
        return step([], now: now)
    }

    /// `ssh -t … watch` with an empty stdin closes it at once: the watch goes on.
    public func endOfInput(now: Date) -> CommandStep { .nothing }

    public func interrupt(now: Date) -> CommandStep {
        guard !done else { return .nothing }
        return finish("\r\nwatch of session \(broadcast.info.id) interrupted\r\n", end: "interrupted", status: 130, now: now)
    }

    /// `prefix`, then what the session printed since the last turn; the end line once it ended.
    private func step(_ prefix: [UInt8], now: Date? = nil) -> CommandStep {
        guard let id else { return .nothing }
        let delivery = broadcast.take(watcher: id)
        bytes += delivery.bytes.count
        skipped += delivery.skipped
        let output = prefix + delivery.bytes
        guard delivery.ended else { return output.isEmpty ? .nothing : .verbatim(output) }
        var step = finish("\r\nbastion: session \(broadcast.info.id) ended\r\n", end: "session ended", status: 0, now: now ?? Date())
        step.stdout = output + step.stdout
        return step
    }

    private func finish(_ line: String, end: String, status: Int32, now: Date) -> CommandStep {
        done = true
        if let id { broadcast.detach(watcher: id) }
        id = nil
        onEnd(Summary(end: end, duration: max(0, now.timeIntervalSince(startedAt)), bytes: bytes, skipped: skipped))
        return .verbatim(Array(line.utf8) + ReplayConversation.resetTerminal, exitStatus: status)
    }
}

/// `watch ID --terminate --reason TEXT`: asks the session's thread to end the session (the
/// user sees one line with the reason), then waits until it has ended.
public final class TerminateConversation: CommandConversation {
    private let broadcast: SessionBroadcast
    private let by: String
    private let reason: String
    private var deadline = Date.distantFuture
    private var done = false

    /// How long the session may take to end once asked: its thread acts within a turn of its
    /// event loop (10 ms while it relays).
    static let patience: TimeInterval = 10

    public init(broadcast: SessionBroadcast, by: String, reason: String) {
        self.broadcast = broadcast
        self.by = by
        self.reason = reason
    }

    public func start(now: Date) -> CommandStep {
        deadline = now.addingTimeInterval(Self.patience)
        broadcast.requestTermination(by: by, reason: reason)
        return tick(now: now)
    }

    public func receive(_ input: [UInt8], now: Date) -> CommandStep { .nothing }

    public func tick(now: Date) -> CommandStep {
        guard !done else { return .nothing }
        if broadcast.isEnded {
            done = true
            return CommandStep(stdout: "session \(broadcast.info.id) terminated\n", exitStatus: 0)
        }
        guard now >= deadline else { return .nothing }
        done = true
        return CommandStep(stderr: "bastion: session \(broadcast.info.id) was asked to end but has not ended yet\n", exitStatus: 1)
    }

    public func endOfInput(now: Date) -> CommandStep { .nothing }

    public func interrupt(now: Date) -> CommandStep {
        guard !done else { return .nothing }
        done = true
        return CommandStep(stderr: "bastion: session \(broadcast.info.id) was asked to end\n", exitStatus: 130)
    }
}
