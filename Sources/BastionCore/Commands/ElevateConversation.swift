public import Foundation

/// `elevate TARGET --reason …`: files the request, then (unless `--no-wait`) shows its state
/// until it is decided or expires. Ctrl-C (or hanging up) withdraws it.
public final class ElevateConversation: CommandConversation {
    private let ask: BastionCommand.ElevationAsk
    private let identity: AuthenticatedIdentity
    private let service: ElevationService
    private let caller: ElevationService.Caller
    private var requestID: ElevationID?
    private var lastState: (ElevationRequest.State, Int)?
    private var lastPoll = Date.distantPast

    public init(ask: BastionCommand.ElevationAsk, identity: AuthenticatedIdentity, service: ElevationService, caller: ElevationService.Caller) {
        self.ask = ask
        self.identity = identity
        self.service = service
        self.caller = caller
    }

    public func start(now: Date) -> CommandStep {
        switch service.request(
            by: identity.user, target: ask.target, login: ask.login, reason: ask.reason, duration: ask.duration, origin: "ssh", caller: caller
        ) {
        case .failure(let refusal):
            return CommandStep(stderr: "bastion: \(refusal)\n", exitStatus: 1)
        case .success(let (request, note)):
            requestID = request.id
            lastState = (request.state, 0)
            var text = "request \(request.id): \(request.login) on \(request.target) for \(DurationText.format(request.duration))\n"
            text += "  reason: \(request.reason)\n"
            text += "  approvers were notified; the request expires at \(Self.clock(request.expiresAt))\n"
            let stderr = note.map { "bastion: \($0)\n" } ?? ""
            guard ask.wait else {
                return CommandStep(stdout: text + "  not waiting: see `requests`; withdraw with Ctrl-C only while waiting\n", stderr: stderr, exitStatus: 0)
            }
            text += "waiting for a second engineer's decision (Ctrl-C withdraws the request) …\n"
            return CommandStep(stdout: text, stderr: stderr)
        }
    }

    public func receive(_ input: [UInt8], now: Date) -> CommandStep {
        // Ctrl-C through a terminal; without one, the client's own Ctrl-C closes the channel.
        input.contains(0x03) ? interrupt(now: now) : .nothing
    }

    /// `ssh` closes an empty stdin at once: waiting goes on.
    public func endOfInput(now: Date) -> CommandStep { .nothing }

    public func tick(now: Date) -> CommandStep {
        guard let id = requestID, now.timeIntervalSince(lastPoll) >= 1 else { return .nothing }
        lastPoll = now
        guard let request = try? service.request(id: id) else { return .nothing }
        let progress = (request.state, request.approvers.count)
        guard lastState.map({ $0 != progress }) ?? true else { return .nothing }
        lastState = progress
        switch request.state {
        case .requested:
            return CommandStep(stdout: "approved by \(request.approvers.joined(separator: ", ")) (\(request.approvers.count) of \(request.approvalsRequired)); waiting …\n")
        case .approved, .active:
            let end = request.grantEndsAt.map(Self.clock) ?? "?"
            return CommandStep(
                stdout: "approved by \(request.approvers.joined(separator: ", ")): \(request.login) on \(request.target) until \(end)\n"
                    + "  ssh -p PORT \(request.login)@\(request.target)@bastion, or sudo on \(request.target); end early with `elevate --drop \(id)`\n",
                exitStatus: 0
            )
        case .denied:
            let decision = request.decisions.last
            let comment = decision.map { $0.comment.isEmpty ? "" : ": \($0.comment)" } ?? ""
            return CommandStep(stderr: "bastion: request \(id) denied by \(decision?.approver ?? "an approver")\(comment)\n", exitStatus: 1)
        case .expired, .withdrawn, .revoked, .ended:
            return CommandStep(stderr: "bastion: request \(id) \(request.state.rawValue)\n", exitStatus: 1)
        }
    }

    public func interrupt(now: Date) -> CommandStep {
        guard let id = requestID else { return CommandStep(exitStatus: 130) }
        requestID = nil
        switch service.withdraw(id: id, by: identity.user.name, caller: caller) {
        case .success: return CommandStep(stderr: "\nbastion: request \(id) withdrawn\n", exitStatus: 130)
        case .failure(let refusal): return CommandStep(stderr: "\nbastion: \(refusal)\n", exitStatus: 130)
        }
    }

    public static func clock(_ date: Date) -> String {
        var style = Date.ISO8601FormatStyle()
        style.timeZone = TimeZone(identifier: "UTC")!
        return date.formatted(style)
    }
}
