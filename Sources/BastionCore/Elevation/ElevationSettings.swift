public import Foundation

/// `[elevation]`: the rules every request follows, whatever the roles say.
public struct ElevationSettings: Sendable, Equatable {
    /// `request_ttl`: an undecided request expires after this long.
    public var requestTTL: TimeInterval
    /// `approvals_required`: how many different approvers must say yes.
    public var approvalsRequired: Int
    /// `end_with_session`: a grant also ends when the requester's last session on the
    /// target ends (off: grants run their time, like `sudo`'s own timestamp).
    public var endWithSession: Bool
    /// `sudo_wait`: how long the target's sudo check waits for a decision (told to the check).
    public var sudoWait: TimeInterval

    public init(requestTTL: TimeInterval = 15 * 60, approvalsRequired: Int = 1, endWithSession: Bool = false, sudoWait: TimeInterval = 5 * 60) {
        self.requestTTL = requestTTL
        self.approvalsRequired = approvalsRequired
        self.endWithSession = endWithSession
        self.sudoWait = sudoWait
    }

    public static let defaults = ElevationSettings()

    /// A role's `max_elevation` when it sets none.
    public static let defaultMaxElevation: TimeInterval = 30 * 60
}
