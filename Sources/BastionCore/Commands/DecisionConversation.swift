public import Foundation

/// `approve ID` / `deny ID --reason …`: shows the request, asks for a fresh TOTP code in the
/// terminal (not echoed), then records the decision. The code is a step-up: the login's own
/// factor, however recent, does not count.
public final class DecisionConversation: CommandConversation {
    private let id: ElevationID
    private let approve: Bool
    private let comment: String
    private let identity: AuthenticatedIdentity
    private let service: ElevationService
    private let caller: ElevationService.Caller
    private var typed: [UInt8] = []
    private var startedAt: Date?
    private var done = false

    /// How long the prompt waits for a code.
    static let codeTimeout: TimeInterval = 120

    public init(
        id: ElevationID, approve: Bool, comment: String, identity: AuthenticatedIdentity, service: ElevationService, caller: ElevationService.Caller
    ) {
        self.id = id
        self.approve = approve
        self.comment = comment
        self.identity = identity
        self.service = service
        self.caller = caller
    }

    public func start(now: Date) -> CommandStep {
        startedAt = now
        guard let request = try? service.request(id: id), request.state == .requested else {
            // Let the service refuse (and audit) it in its own words.
            return finish(code: "")
        }
        var text = "request \(request.id) from \(request.requester): \(request.login) on \(request.target) for \(DurationText.format(request.duration))\n"
        text += "  reason: \(request.reason)\n"
        text += "TOTP code for \(identity.user.name) to \(approve ? "approve" : "deny"): "
        // Never echoed: Bastion does not echo with a terminal, and without one the client's
        // own terminal does whatever it does.
        return CommandStep(stdout: text)
    }

    public func receive(_ input: [UInt8], now: Date) -> CommandStep {
        guard !done else { return .nothing }
        for byte in input {
            switch byte {
            case 0x03: return interrupt(now: now)
            case 0x0D, 0x0A: return finish(code: String(decoding: typed, as: UTF8.self))
            case 0x7F, 0x08: if !typed.isEmpty { typed.removeLast() }
            default: if typed.count < 16 { typed.append(byte) }
            }
        }
        return .nothing
    }

    public func tick(now: Date) -> CommandStep {
        guard !done, let startedAt, now.timeIntervalSince(startedAt) > Self.codeTimeout else { return .nothing }
        done = true
        return CommandStep(stderr: "\nbastion: no code entered; nothing decided\n", exitStatus: 1)
    }

    /// End of input ends the code (`printf 123456 | ssh … approve ID`); no code at all is
    /// refused by the service, and audited, like a wrong one.
    public func endOfInput(now: Date) -> CommandStep {
        guard !done else { return .nothing }
        return finish(code: String(decoding: typed, as: UTF8.self))
    }

    public func interrupt(now: Date) -> CommandStep {
        guard !done else { return .nothing }
        done = true
        return CommandStep(stderr: "\nbastion: cancelled; nothing decided\n", exitStatus: 130)
    }

    private func finish(code: String) -> CommandStep {
        done = true
        let result = service.decide(
            id: id, approve: approve, approver: identity.user.name, proof: .totp(code.trimmingCharacters(in: .whitespaces)),
            comment: comment, caller: caller
        )
        switch result {
        case .failure(let refusal):
            return CommandStep(stdout: "\n", stderr: "bastion: \(refusal)\n", exitStatus: 1)
        case .success(let request):
            let outcome: String = switch request.state {
            case .requested: "approval recorded (\(request.approvers.count) of \(request.approvalsRequired)); more approvers needed"
            case .active, .approved: "approved: \(request.requester) may use \(request.login) on \(request.target) until \(ElevateConversation.clock(request.grantEndsAt ?? Date()))"
            default: "request \(request.id) \(request.state.rawValue)"
            }
            return CommandStep(stdout: "\n\(outcome)\n", exitStatus: 0)
        }
    }
}
