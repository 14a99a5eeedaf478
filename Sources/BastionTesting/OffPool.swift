import Foundation

/// Runs blocking `body` (SQLite with its fsyncs, key files, a bastiond's start) on a thread of
/// its own and returns its result.
///
/// Swift's cooperative pool has one thread per core (two here) and is shared by every test
/// and every in-process bastiond; a test that opens a store on it during the start of a
/// parallel run keeps the bastionds of other tests from answering for seconds.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
