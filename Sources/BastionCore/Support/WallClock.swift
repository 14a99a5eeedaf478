public import Foundation

/// The source of "now" for every domain decision.
///
/// Injected rather than read from `Date()` so that tests can stand at any instant
/// (TOTP steps, certificate windows, lockouts) and so that "now" is read where the
/// decision is made, never captured early (STYLE.md rule 6).
public protocol WallClock: Sendable {
    func now() -> Date
}

/// The real clock.
public struct SystemWallClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}
