import BastionCrypto
public import Foundation

/// TOTP (RFC 6238): HOTP over the number of `period`-second steps since the Unix epoch,
/// with HMAC-SHA1, the only algorithm all authenticator apps implement.
public struct TOTP: Sendable {
    public let secret: TOTPSecret
    public let digits: Int
    /// Step length in seconds (RFC 6238 §4.1 "X", recommended 30).
    public let period: Int

    public init(secret: TOTPSecret, digits: Int = 6, period: Int = 30) {
        precondition((6 ... 9).contains(digits), "TOTP digits must be 6...9 (RFC 4226 §5.3 R4)")
        precondition(period > 0, "TOTP period must be positive")
        self.secret = secret
        self.digits = digits
        self.period = period
    }

    /// The time step T = floor(unix time / period) (RFC 6238 §4.2).
    public func step(at date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 / Double(period)).rounded(.down))
    }

    /// The code for a step.
    public func code(atStep step: Int64) -> String {
        HOTP.code(secret: secret.bytes, counter: UInt64(bitPattern: step), digits: digits)
    }

    /// The code for the step containing `date`.
    public func code(at date: Date) -> String {
        code(atStep: step(at: date))
    }

    /// Finds the step within `now ± skewSteps` whose code equals `code`, accepting it only
    /// if it is later than `lastUsedStep`: RFC 6238 §5.2 says a verifier MUST NOT accept a
    /// second attempt of an OTP once it succeeded, and a step at or before the last one
    /// used is exactly such a replay.
    ///
    /// Every step in the window is computed and compared in constant time with no early
    /// exit, so response time reveals neither which step matched nor how close a guess
    /// was. If a code happens to match several steps, the latest is returned, so it cannot
    /// be replayed for a later step.
    /// - Returns: the matching step to record as used, or `nil`.
    public func matchingStep(for code: String, at now: Date, skewSteps: Int, after lastUsedStep: Int64?) -> Int64? {
        let candidate = Array(code.utf8)
        let wellFormed = candidate.count == digits && candidate.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        guard wellFormed else { return nil }
        let current = step(at: now)
        let skew = Int64(max(0, skewSteps))
        var match: Int64?
        for step in (current - skew) ... (current + skew) {
            let expected = Array(self.code(atStep: step).utf8)
            let equal = constantTimeEquals(expected, candidate)
            let fresh = lastUsedStep.map { step > $0 } ?? true
            if equal && fresh { match = step }
        }
        return match
    }
}
