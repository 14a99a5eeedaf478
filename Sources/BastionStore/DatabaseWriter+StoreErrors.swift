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

    /// A write transaction whose failures surface as ``StoreError``.
    func storeWrite<T>(_ body: (Database) throws -> T) throws -> T {
        do { return try write(body) } catch let error as StoreError { throw error } catch {
            throw StoreError(.unavailable, "\(error)")
        }
    }
}
