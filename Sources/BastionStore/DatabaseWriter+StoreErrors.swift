import BastionCore
import GRDB

extension DatabaseWriter {
    /// A read whose failures surface as ``StoreError`` (domain errors pass through), so the
    /// domain never sees GRDB's error type.
    func storeRead<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try read(body) } catch let error as StoreError { throw error } catch {
            throw StoreError(.unavailable, "\(error)")
        }
    }

    /// A read of one statement, outside any transaction: SQLite gives a single statement a
    /// consistent snapshot of its own, so the `BEGIN`/`COMMIT` pair ``storeRead(_:)`` wraps
    /// around its body would only add two statements to the login path's point lookups.
    /// Reads of several statements that must agree use ``storeRead(_:)``.
    func storeSingleStatementRead<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try unsafeRead(body) } catch let error as StoreError { throw error } catch {
            throw StoreError(.unavailable, "\(error)")
        }
    }

    /// A write transaction whose failures surface as ``StoreError``.
    func storeWrite<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try write(body) } catch let error as StoreError { throw error } catch {
            throw StoreError(.unavailable, "\(error)")
        }
    }
}
