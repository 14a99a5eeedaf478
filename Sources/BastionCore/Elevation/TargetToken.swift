import BastionCrypto

/// The bearer token a target's sudo check presents (`Authorization: Bearer …`).
///
/// `token = base64url(HMAC-SHA256(key, NAME "/" EPOCH))`, the key derived from the master key
/// (purpose `target-tokens`): nothing is stored per target, `bastiond target token NAME`
/// recomputes it, and bumping the target's `token_epoch` rotates it. A token only speaks for
/// its own target, so a compromised host cannot ask about another one.
public struct TargetToken: Sendable {
    /// `SecretSealer.derivedKey(purpose:)` for this purpose.
    public static let purpose = "target-tokens"

    private let key: [UInt8]

    public init(key: [UInt8]) {
        self.key = key
    }

    public func token(for target: TargetDefinition) -> String {
        token(name: target.name, epoch: target.tokenEpoch)
    }

    /// Whether `presented` is the current token of `target`. An unknown target (nil) costs
    /// the same work and answers false, so timing does not tell which names exist.
    public func verify(_ presented: String, for target: TargetDefinition?, name: String) -> Bool {
        let expected = token(name: target?.name ?? name, epoch: target?.tokenEpoch ?? 0)
        let matches = constantTimeEquals(Array(expected.utf8), Array(presented.utf8))
        return matches && target != nil
    }

    private func token(name: String, epoch: Int) -> String {
        ApprovalLink.base64URL(HMAC.sha256(key: key, message: Array("\(name)/\(epoch)".utf8)))
    }
}
