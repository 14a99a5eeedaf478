/// Why an elevation action was refused. `message` is what the person sees (they already
/// proved who they are); the audit record carries the same words as its reason.
public enum ElevationRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    case missingReason
    case unknownTarget(String)
    case loginNotElevatable(login: String, target: String)
    case noSuchRequest(ElevationID)
    case notPending(id: ElevationID, state: ElevationRequest.State)
    case notActive(id: ElevationID)
    case notYours(id: ElevationID)
    case selfApproval
    case notAnApprover(target: String, login: String)
    case alreadyDecided(id: ElevationID)
    case missingCode
    case wrongCode
    case replayedCode
    case approverLocked
    case unknownApprover
    case linkInvalid
    case linkUsed
    case unavailable

    public var description: String {
        switch self {
        case .missingReason: "a reason is required (--reason \"why you need it\")"
        case .unknownTarget(let target): "unknown target \(target)"
        case .loginNotElevatable(let login, let target): "none of your roles may request \(login) on \(target)"
        case .noSuchRequest(let id): "no request \(id)"
        case .notPending(let id, let state): "request \(id) is \(state.rawValue), not pending"
        case .notActive(let id): "request \(id) is not an active grant"
        case .notYours(let id): "request \(id) is not yours"
        case .selfApproval: "you cannot decide your own request"
        case .notAnApprover(let target, let login): "none of your roles may approve \(login) on \(target)"
        case .alreadyDecided(let id): "you already decided request \(id)"
        case .missingCode: "a TOTP code is required"
        case .wrongCode: "wrong TOTP code"
        case .replayedCode: "that TOTP code was already used; wait for the next one"
        case .approverLocked: "your account is locked"
        case .unknownApprover: "unknown user"
        case .linkInvalid: "this approval link is not valid"
        case .linkUsed: "this approval link was already used"
        case .unavailable: "internal failure; try again later"
        }
    }
}
