/// A file the target opened for the client, from its `HANDLE` reply to its CLOSE.
struct SFTPOpenFile {
    var path: String
    var flags: UInt32
    var handle: [UInt8]
    var bytesRead: UInt64 = 0
    var bytesWritten: UInt64 = 0
    var digest = SequentialDigest()
    private var direction: Direction = .none

    private enum Direction { case none, read, write }

    init(path: String, flags: UInt32, handle: [UInt8]) {
        self.path = path
        self.flags = flags
        self.handle = handle
    }

    /// DATA the target sent for a READ at `offset`.
    mutating func read(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, budget: inout ReorderBudget) {
        bytesRead += UInt64(bytes.count)
        turn(.read, budget: &budget)
        digest.add(bytes, at: offset, budget: &budget)
    }

    /// A WRITE the client sent at `offset`; counted when it passes, taken back if it fails.
    mutating func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64, budget: inout ReorderBudget) {
        bytesWritten += UInt64(bytes.count)
        turn(.write, budget: &budget)
        digest.add(bytes, at: offset, budget: &budget)
    }

    /// The target refused a WRITE of `byteCount` bytes.
    mutating func writeFailed(byteCount: Int, budget: inout ReorderBudget) {
        bytesWritten -= min(bytesWritten, UInt64(byteCount))
        digest.giveUp(.writeFailed, budget: &budget)
    }

    private mutating func turn(_ next: Direction, budget: inout ReorderBudget) {
        if direction == .none { direction = next }
        if direction != next { digest.giveUp(.readAndWrite, budget: &budget) }
    }
}
