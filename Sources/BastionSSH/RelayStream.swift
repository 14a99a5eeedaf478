#if canImport(Glibc)
import Glibc
#endif

/// The bytes of one stream of one relay direction (client → target, target → client stdout,
/// target → client stderr) that were read from one side and not yet written to the other.
///
/// Raw memory from `mmap`, not `[UInt8]`: reserved once per stream, never zero-filled, and
/// given back to the kernel when the session ends. An idle session touches one page of it,
/// not all of it (memory per idle session is a goal), and a bulk session's buffers do not
/// linger in a malloc arena of its connection thread after it ends. Bytes are read into it
/// and written out of it in place, so a chunk is not copied on its way through Bastion.
///
/// Also decides how much to write now (``writableCount(window:sourceIdle:)``): during a bulk
/// transfer it holds back a partial packet for a moment so that packets toward the peer are
/// full (see ``packetPayload``). Owned by the connection thread alone (STYLE.md rule 4).
final class RelayStream {
    /// Bytes of channel data in one packet toward an OpenSSH peer. OpenSSH advertises a
    /// 32 KiB maximum packet and libssh 0.10 keeps 10 bytes of that for the header
    /// (`channel_write_common`), so a 32 KiB write leaves as a 32758-byte packet plus a
    /// 10-byte one: twice the packets, encryptions, send(2) calls and wake-ups of the peer.
    static let packetPayload = 32_768 - 10
    /// Four full packets: a read takes everything libssh has buffered up to this.
    static let capacity = 4 * packetPayload
    /// The longest a partial packet waits for the rest of a bulk transfer. Keystrokes and
    /// other small reads never wait: holding applies only while the source sends full packets.
    static let holdLimit: Duration = .milliseconds(1)

    private let storage: UnsafeMutableRawPointer?
    /// Bytes held, at the start of `storage`.
    private(set) var count = 0
    /// Whether the latest read brought at least a full packet: the source is streaming.
    private var streaming = false
    /// Since when the partial packet at the end has been held back.
    private var heldSince: ContinuousClock.Instant?

    init() {
        let mapped = mmap(nil, Self.capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        storage = mapped == MAP_FAILED ? nil : mapped
    }

    deinit {
        if let storage { munmap(storage, Self.capacity) }
    }

    var isEmpty: Bool { count == 0 }
    /// Free space; 0 if the mapping failed (the relay then moves nothing and the session idles out).
    var room: Int { storage == nil ? 0 : Self.capacity - count }
    /// True while a partial packet waits: the event loop then polls with a short timeout.
    var isHolding: Bool { heldSince != nil }

    /// Reads with `read(destination, maximum)` into the free space; returns what it returned.
    func fill(upTo maximum: Int, _ read: (UnsafeMutableRawPointer, Int) -> Int) -> Int {
        guard let storage, maximum > 0, room > 0 else { return 0 }
        let result = read(storage + count, min(maximum, room))
        guard result > 0 else { return result }
        count += result
        streaming = result >= Self.packetPayload
        return result
    }

    /// The bytes just read by the last ``fill(upTo:_:)`` that returned `length`.
    func lastRead(_ length: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage.map { UnsafeRawPointer($0) + count - length }, count: length)
    }

    /// Takes back the last `length` bytes read: a file-transfer tap parses them and hands
    /// back what to forward (``append(_:)``). What it hands back are whole SFTP or scp
    /// packets, so nothing is held back for a fuller channel packet: each held tail would wait
    /// ``holdLimit`` for a read that the client, waiting for its replies, does not send (an
    /// SFTP upload ran at 41 MiB/s that way).
    func removeLast(_ length: Int) {
        count -= min(length, count)
        streaming = false
        heldSince = nil
    }

    /// Appends as many of `bytes` as fit; returns how many did.
    func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard let storage, let base = bytes.baseAddress else { return 0 }
        let length = min(room, bytes.count)
        guard length > 0 else { return 0 }
        (storage + count).copyMemory(from: base, byteCount: length)
        count += length
        return length
    }

    /// How many of the held bytes to write now, given the destination's window.
    ///
    /// Everything the window allows, except that while the source streams full packets the
    /// partial packet at the end waits (at most ``holdLimit``) for the next read to fill it.
    /// `sourceIdle` says the last read found nothing; only then can a hold expire.
    func writableCount(window: Int, sourceIdle: Bool, sourceEnded: Bool) -> Int {
        let limit = min(count, max(window, 0))
        guard limit == count, streaming, !sourceEnded else { return release(limit) }
        let whole = count - count % Self.packetPayload
        if whole == count { return release(count) }
        if whole > 0 {
            // The older partial packet goes out at the front of these; the new one waits.
            heldSince = .now
            return whole
        }
        let started = heldSince ?? .now
        heldSince = started
        if sourceIdle, ContinuousClock.now - started >= Self.holdLimit { return release(count) }
        return 0
    }

    /// Calls `write(bytes)` with the first `length` bytes; removes what it wrote.
    func drain(_ length: Int, _ write: (UnsafeRawBufferPointer) -> Int) -> Int {
        guard let storage, length > 0 else { return 0 }
        let written = max(0, min(length, write(UnsafeRawBufferPointer(start: storage, count: length))))
        if written > 0 {
            count -= written
            if count > 0 { memmove(storage, storage + written, count) }
        }
        return written
    }

    private func release(_ length: Int) -> Int {
        if length == count {
            heldSince = nil
            streaming = false
        }
        return length
    }
}
