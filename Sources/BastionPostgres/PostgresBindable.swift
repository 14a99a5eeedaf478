import BastionCore
import Foundation

/// A Swift value bound to a statement parameter, in PostgreSQL's text format (nil is NULL).
protocol PostgresBindable {
    var postgresText: String? { get }
}

extension String: PostgresBindable {
    var postgresText: String? { self }
}

extension Int: PostgresBindable {
    var postgresText: String? { String(self) }
}

extension Int64: PostgresBindable {
    var postgresText: String? { String(self) }
}

/// Times are stored as seconds since 1970 (`double precision`), as in the SQLite schema, so
/// both stores compare and order them the same way. Swift prints the shortest text that reads
/// back as the same Double.
extension Double: PostgresBindable {
    var postgresText: String? { "\(self)" }
}

extension Bool: PostgresBindable {
    var postgresText: String? { self ? "true" : "false" }
}

extension Date: PostgresBindable {
    var postgresText: String? { timeIntervalSince1970.postgresText }
}

extension Optional: PostgresBindable where Wrapped: PostgresBindable {
    var postgresText: String? { self?.postgresText }
}

/// `bytea` in hex input format.
struct PostgresBytes: PostgresBindable {
    let bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var postgresText: String? { "\\x" + AuditChain.hex(bytes) }
}

/// What went wrong talking to PostgreSQL; stores turn it into a ``StoreError``.
enum PostgresError: Error, CustomStringConvertible {
    /// The server cannot be reached or the connection broke.
    case connection(String)
    /// The server refused a statement; `state` is its SQLSTATE (`23505` unique violation).
    case server(state: String, message: String)
    /// A value came back in a form the store cannot read.
    case decoding(String)

    var description: String {
        switch self {
        case .connection(let message): "PostgreSQL unreachable: \(message)"
        case .server(let state, let message): "PostgreSQL error \(state): \(message)"
        case .decoding(let message): "unreadable value from PostgreSQL: \(message)"
        }
    }

    static let uniqueViolation = "23505"
    static let serializationFailure = "40001"
    static let deadlock = "40P01"
}
