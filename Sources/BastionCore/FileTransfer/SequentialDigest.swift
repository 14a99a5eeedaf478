import BastionCrypto

/// SHA-256 of a file's bytes as they cross, taken only while they come in offset order from 0.
///
/// OpenSSH's `sftp` keeps up to 64 READs or WRITEs in flight and a short read is asked for
/// again, so pieces may arrive ahead of a gap: they wait in a bounded reorder window (per file
/// and per session, through ``ReorderBudget``). Overlaps, a repeat, or a window overflow make
/// the digest give up (`non-sequential`) and free its memory: the byte counts stay exact, only
/// the digest is lost. The bytes are hashed straight from the packet; only the out-of-order
/// ones are copied.
///
/// Holds an `IncrementalSHA256` (a class): a copy shares the running digest, so the owner
/// keeps one copy.
struct SequentialDigest {
    /// The most one file may hold out of order.
    static let fileWindowByteCount = 8 << 20

    private var hasher: IncrementalSHA256? = IncrementalSHA256()
    private var nextOffset: UInt64 = 0
    private var waiting: [UInt64: [UInt8]] = [:]
    private var waitingByteCount = 0
    /// Set once the digest gave up.
    private(set) var failure: FileOperation.DigestStatus?

    /// Adds the bytes found at `offset` of the file.
    mutating func add(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, budget: inout ReorderBudget) {
        guard failure == nil, let hasher, bytes.count > 0 else { return }
        if offset == nextOffset {
            hasher.update(bytes)
            nextOffset += UInt64(bytes.count)
            while !waiting.isEmpty, let chunk = waiting.removeValue(forKey: nextOffset) {
                hasher.update(chunk)
                nextOffset += UInt64(chunk.count)
                waitingByteCount -= chunk.count
                budget.release(chunk.count)
            }
        } else if offset > nextOffset, waiting[offset] == nil, waitingByteCount + bytes.count <= Self.fileWindowByteCount,
            budget.reserve(bytes.count)
        {
            waiting[offset] = [UInt8](bytes.assumingMemoryBound(to: UInt8.self))
            waitingByteCount += bytes.count
        } else {
            giveUp(.nonSequential, budget: &budget)
        }
    }

    /// Stops digesting for `reason` and frees the window.
    mutating func giveUp(_ reason: FileOperation.DigestStatus, budget: inout ReorderBudget) {
        guard failure == nil else { return }
        failure = reason
        hasher = nil
        budget.release(waitingByteCount)
        waiting = [:]
        waitingByteCount = 0
    }

    /// The digest in lowercase hex and its status; the digest is done with afterwards.
    mutating func finish(budget: inout ReorderBudget) -> (sha256: String?, status: FileOperation.DigestStatus) {
        if waitingByteCount > 0 { giveUp(.nonSequential, budget: &budget) }
        if let failure { return (nil, failure) }
        guard let hasher else { return (nil, .nonSequential) }
        self.hasher = nil
        failure = .complete
        return (Hex.string(hasher.finalize()), .complete)
    }
}

/// Bytes a whole session may hold out of order across its files, so many open files cannot
/// add up to an unbounded buffer.
struct ReorderBudget {
    static let sessionByteCount = 16 << 20

    private(set) var used = 0

    mutating func reserve(_ count: Int) -> Bool {
        guard used + count <= Self.sessionByteCount else { return false }
        used += count
        return true
    }

    mutating func release(_ count: Int) {
        used -= count
    }
}
