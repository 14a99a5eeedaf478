/// Why a login attempt was refused. Goes to the audit log; the peer only sees "denied".
public enum AuthenticationDenial: Sendable, Hashable, CustomStringConvertible {
    case invalidUsername
    case unknownUser
    case keyNotEnrolled
    /// The key is enrolled, but for another user than the one named in the login.
    case keyOwnedByAnotherUser(owner: String)
    case unsupportedKey
    case weakKey(bits: Int)
    case userLocked
    case lockedOut
    case certificateRejected(CertificateRejection)
    case certificateNotIssuedByBastion
    case wrongCode
    case replayedCode
    case methodNotAllowed(String)
    /// An `ssh -J` login inside Bastion's jump channel by another user than the outer one.
    case notTheJumpUser(outer: String)
    /// A store, the audit log or the key material failed: fail closed.
    case internalFailure

    public var description: String {
        switch self {
        case .invalidUsername: "invalid username"
        case .unknownUser: "unknown user"
        case .keyNotEnrolled: "key not enrolled"
        case .keyOwnedByAnotherUser(let owner): "key is enrolled for another user (\(owner))"
        case .unsupportedKey: "unsupported or malformed key"
        case .weakKey(let bits): "RSA key of \(bits) bits (minimum 3072)"
        case .userLocked: "user is locked"
        case .lockedOut: "user is locked out after repeated TOTP failures"
        case .certificateRejected(let rejection): "certificate rejected: \(rejection)"
        case .certificateNotIssuedByBastion: "certificate serial not in Bastion's ledger for this user and key"
        case .wrongCode: "wrong TOTP code"
        case .replayedCode: "TOTP code already used"
        case .methodNotAllowed(let method): "\(method) authentication without a prior accepted key"
        case .notTheJumpUser(let outer): "inner login of an ssh -J jump is not the jump's user (\(outer))"
        case .internalFailure: "internal failure (store, audit log or key material; see the daemon log)"
        }
    }
}
