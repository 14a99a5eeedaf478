public import Foundation

/// The life of the master key's versions, as the security policy states it: a new version
/// every `rotate_every` (90 days), the old one kept decrypt-only for `retire_after` (a year),
/// then destroyed, but only once nothing still references it.
///
/// Pure decisions over a list of versions; the key provider makes and destroys the keys and
/// the daemon persists this record (`master-keys.json` in the data directory: no secret in it).
public struct MasterKeySchedule: Codable, Sendable, Equatable {
    public struct Version: Codable, Sendable, Equatable {
        public var version: UInt32
        public var created: Date
        /// When a newer version took over; from then on this one only unwraps.
        public var superseded: Date?
        /// When the key itself was destroyed; kept in the list so the number is never reused.
        public var destroyed: Date?

        public init(version: UInt32, created: Date, superseded: Date? = nil, destroyed: Date? = nil) {
            self.version = version
            self.created = created
            self.superseded = superseded
            self.destroyed = destroyed
        }

        public var state: State {
            if destroyed != nil { return .destroyed }
            return superseded == nil ? .active : .decryptOnly
        }
    }

    public enum State: String, Sendable {
        case active
        case decryptOnly = "decrypt-only"
        case destroyed
    }

    public private(set) var versions: [Version]

    /// A schedule whose first version was made at `created` (the `master.key` of an
    /// installation older than rotation counts as version 1, made when first seen).
    public init(firstCreated created: Date) {
        versions = [Version(version: 1, created: created)]
    }

    public init(versions: [Version]) {
        self.versions = versions.sorted { $0.version < $1.version }
    }

    /// The version that wraps new data keys.
    public var current: Version {
        versions.last { $0.state == .active } ?? versions[versions.count - 1]
    }

    /// Versions whose keys still exist (the current one and the decrypt-only ones).
    public var usable: [Version] { versions.filter { $0.state != .destroyed } }

    /// Whether the current version is `every` old at `now`.
    public func rotationDue(now: Date, every: TimeInterval) -> Bool {
        now.timeIntervalSince(current.created) >= every
    }

    /// Adds the next version and makes it current; the previous one turns decrypt-only.
    /// Returns the new version's number (the provider then makes that key).
    public mutating func rotate(now: Date) -> UInt32 {
        let next = (versions.map(\.version).max() ?? 0) + 1
        for index in versions.indices where versions[index].state == .active {
            versions[index].superseded = now
        }
        versions.append(Version(version: next, created: now))
        return next
    }

    /// Decrypt-only versions that may be destroyed now: superseded at least `retireAfter` ago
    /// and referenced by nothing (`references` counts wrapped keys per version).
    public func destroyable(now: Date, retireAfter: TimeInterval, references: [UInt32: Int]) -> [UInt32] {
        versions.compactMap { version in
            guard version.state == .decryptOnly, let superseded = version.superseded,
                now.timeIntervalSince(superseded) >= retireAfter, (references[version.version] ?? 0) == 0
            else { return nil }
            return version.version
        }
    }

    /// Decrypt-only versions past `retireAfter` that something still references: the keys stay,
    /// and `keys list` says what holds them.
    public func overdue(now: Date, retireAfter: TimeInterval, references: [UInt32: Int]) -> [UInt32] {
        versions.compactMap { version in
            guard version.state == .decryptOnly, let superseded = version.superseded,
                now.timeIntervalSince(superseded) >= retireAfter, (references[version.version] ?? 0) > 0
            else { return nil }
            return version.version
        }
    }

    /// Records that `version`'s key was destroyed.
    public mutating func markDestroyed(_ version: UInt32, at now: Date) {
        for index in versions.indices where versions[index].version == version && versions[index].state == .decryptOnly {
            versions[index].destroyed = now
        }
    }
}
