import BastionCore
import BastionCrypto
import Foundation
import BastionPostgres
import BastionStore
import BastionTesting
import Testing

/// The two storage backends, so that one store suite runs against both: SQLite files (the
/// embedded default) and a real PostgreSQL server (HA), each test on fresh, empty data.
enum StoreBackend: String, CaseIterable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    /// Signs the audit checkpoints of every test's stores.
    static let auditKey = try! Ed25519PrivateKey()

    /// The stores of one process (SQLite) or node (PostgreSQL), read as `stores.users` etc.
    @dynamicMemberLookup
    struct Stores {
        let all: StoreSet
        /// Keeps a SQLite file's directory alive as long as its stores.
        let directory: TemporaryDirectory?

        subscript<T>(dynamicMember keyPath: KeyPath<StoreSet, T>) -> T { all[keyPath: keyPath] }
    }

    /// Fresh empty data; ``Location/connect(node:)`` opens it again for a second process or node.
    func fresh() throws -> Location {
        switch self {
        case .sqlite:
            let directory = try TemporaryDirectory()
            return Location(backend: self, address: directory.file("bastion.sqlite"), directory: directory)
        case .postgres:
            return Location(backend: self, address: try PostgresFixture.shared().createDatabase(), directory: nil)
        }
    }

    struct Location {
        let backend: StoreBackend
        /// The SQLite file, or the PostgreSQL URL.
        let address: String
        let directory: TemporaryDirectory?

        /// A new handle on the data: for SQLite a new connection pool on the file, for
        /// PostgreSQL a new connection pool named as node `node`.
        func connect(node: String = "node-a", leaseDuration: TimeInterval = 15) throws -> Stores {
            switch backend {
            case .sqlite:
                Stores(all: try DatabasePoolHandle(path: address, sealing: .init(key: StoreBackend.auditKey)).stores, directory: directory)
            case .postgres:
                Stores(
                    all: try PostgresDatabase(url: address).stores(node: node, sealing: .init(key: StoreBackend.auditKey), leaseDuration: leaseDuration),
                    directory: nil
                )
            }
        }
    }
}
