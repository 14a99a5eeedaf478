public import Foundation

/// A legal hold: keeps matching audit records and recordings past their retention date
/// until it is removed. Holds are never deleted, only marked removed, so who held what and
/// when stays on record.
public struct LegalHold: Sendable, Hashable {
    public enum Scope: Sendable, Hashable, CustomStringConvertible {
        /// Records whose actor is this user, and that user's recordings.
        case user(String)
        /// Records and the recording of one session.
        case session(String)
        /// Records with `seq` in this range (and recordings of sessions they mention).
        case range(ClosedRange<Int64>)

        public var description: String {
            switch self {
            case .user(let name): "user \(name)"
            case .session(let id): "session \(id)"
            case .range(let range): "records \(range.lowerBound)-\(range.upperBound)"
            }
        }

        /// How a store keeps the scope: a kind (`user`, `session`, `range`) and a value.
        public var stored: (kind: String, value: String) {
            switch self {
            case .user(let name): ("user", name)
            case .session(let id): ("session", id)
            case .range(let range): ("range", "\(range.lowerBound)-\(range.upperBound)")
            }
        }

        /// The scope a store kept as `kind` and `value`; nil for a kind this version does not know.
        public init?(storedKind kind: String, value: String) {
            switch kind {
            case "user": self = .user(value)
            case "session": self = .session(value)
            case "range":
                guard let range = Self.parseRange(value) else { return nil }
                self = .range(range)
            default: return nil
            }
        }

        /// Parses `FROM-TO` (record seqs) for `--range`.
        public static func parseRange(_ text: String) -> ClosedRange<Int64>? {
            let parts = text.split(separator: "-", omittingEmptySubsequences: false)
            guard parts.count == 2, let from = Int64(parts[0]), let to = Int64(parts[1]), from >= 1, from <= to else { return nil }
            return from...to
        }
    }

    public var id: Int64
    public var scope: Scope
    public var reason: String
    public var createdAt: Date
    public var createdBy: String
    public var removedAt: Date?
    public var removedBy: String?

    public init(id: Int64, scope: Scope, reason: String, createdAt: Date, createdBy: String, removedAt: Date? = nil, removedBy: String? = nil) {
        self.id = id
        self.scope = scope
        self.reason = reason
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.removedAt = removedAt
        self.removedBy = removedBy
    }

    public var isActive: Bool { removedAt == nil }
}
