/// What a new policy changes, by name: the part of a reload's audit record that reviewers
/// read ("role contractor removed, target db02 modified").
public struct PolicyChange: Sendable, Equatable {
    public struct Names: Sendable, Equatable {
        public var added: [String] = []
        public var removed: [String] = []
        public var modified: [String] = []

        public var isEmpty: Bool { added.isEmpty && removed.isEmpty && modified.isEmpty }

        public init<Value: Equatable>(from old: [String: Value], to new: [String: Value]) {
            added = new.keys.filter { old[$0] == nil }.sorted()
            removed = old.keys.filter { new[$0] == nil }.sorted()
            modified = new.keys.filter { old[$0] != nil && old[$0] != new[$0] }.sorted()
        }
    }

    public var roles: Names
    public var targets: Names

    public init(from old: Policy, to new: Policy) {
        roles = Names(from: old.roles, to: new.roles)
        targets = Names(from: old.targets, to: new.targets)
    }

    public var isEmpty: Bool { roles.isEmpty && targets.isEmpty }

    /// Audit details: `roles_added=a,b` and so on, only the non-empty lists.
    public var details: [String: String] {
        var details: [String: String] = [:]
        for (kind, names) in [("roles", roles), ("targets", targets)] {
            for (change, list) in [("added", names.added), ("removed", names.removed), ("modified", names.modified)] where !list.isEmpty {
                details["\(kind)_\(change)"] = list.joined(separator: ",")
            }
        }
        return details
    }
}
