public import Foundation

/// Checks a *fresh* TOTP code for an action that needs one beyond the login (an approval):
/// the same replay state as logins, so a code used to log in (or to approve once) cannot
/// approve again, and wrong codes count toward the same lockout.
public struct StepUpVerifier: Sendable {
    private let users: any UserStore
    private let sealer: SecretSealer
    private let settings: AuthenticationSettings

    public init(users: any UserStore, sealer: SecretSealer, settings: AuthenticationSettings) {
        self.users = users
        self.sealer = sealer
        self.settings = settings
    }

    /// Accepts `code` for `name` at `now` and consumes its step, or says why not.
    public func verify(_ code: String, for name: UserName, at now: Date) throws -> ElevationRefusal? {
        guard let user = try users.user(named: name), let state = try users.totpState(of: name) else { return .unknownApprover }
        if user.isLocked { return .approverLocked }
        if let until = state.lockedUntil, until > now { return .approverLocked }
        guard !code.isEmpty else { return .missingCode }
        let totp = TOTP(secret: try sealer.openTOTPSecret(state.sealedSecret, for: name))
        if let step = totp.matchingStep(for: code, at: now, skewSteps: settings.totpSkewSteps, after: state.lastUsedStep),
            try users.consumeTOTPStep(step, for: name)
        {
            return nil
        }
        let replayed = totp.matchingStep(for: code, at: now, skewSteps: settings.totpSkewSteps, after: nil) != nil
        _ = try users.recordTOTPFailure(for: name, now: now, maxFailures: settings.maxFailures, lockout: settings.lockout)
        return replayed ? .replayedCode : .wrongCode
    }
}
