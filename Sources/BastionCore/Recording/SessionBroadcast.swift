public import Foundation
import Synchronization

/// A live session's output, offered to whoever watches it (`watch ID`), and the requests
/// watchers leave for the session's own thread (a watch started, a termination).
///
/// The relay offers every output chunk it reads (``offer(_:)``); that call never waits on a
/// watcher: each watcher has a bounded buffer (``WatcherBuffer``), and a watcher that falls
/// behind loses bytes and is told how many, instead of slowing the session. The last bytes are
/// kept in a ring (``OutputRing``) so that a new watcher's screen starts with recent output.
/// (Dropping here does not break "backpressure, never drop": the recording, the record of the
/// session, still takes every byte through its own bounded queue; a watcher's screen is a view.)
///
/// Shared between the session's connection thread (offer, requests, end) and the watchers'
/// threads (attach, take, detach): one short lock, no allocation beyond the copies.
public final class SessionBroadcast: Sendable {
    /// What a watcher and the permission check need to know of the session.
    public struct Info: Sendable, Equatable {
        public var id: SessionID
        public var user: String
        public var login: String
        public var target: String
        /// The elevation grant the session runs under: its approvers may watch it.
        public var grantID: ElevationID?
        public var startedAt: Date

        public init(id: SessionID, user: String, login: String, target: String, grantID: ElevationID?, startedAt: Date) {
            self.id = id
            self.user = user
            self.login = login
            self.target = target
            self.grantID = grantID
            self.startedAt = startedAt
        }
    }

    /// A watcher asked the session to end.
    public struct Termination: Sendable, Equatable {
        public var by: String
        public var reason: String

        public init(by: String, reason: String) {
            self.by = by
            self.reason = reason
        }
    }

    /// What the session's thread has to act on (``takeRequests()``).
    public struct Requests: Sendable, Equatable {
        /// Watchers who started watching since the last call, in order.
        public var watchersJoined: [String] = []
        public var termination: Termination?
    }

    /// What a watcher gets at one call of ``take(watcher:)``.
    public struct Delivery: Sendable, Equatable {
        public var bytes: [UInt8]
        /// Bytes this watcher lost since the last call (the notice is already in `bytes`).
        public var skipped: Int
        /// The session ended and everything it printed has been delivered.
        public var ended: Bool
    }

    private struct State {
        var ring: OutputRing
        var watchers: [Int: WatcherBuffer] = [:]
        var nextWatcher = 0
        var ended = false
        var requests = Requests()
        var size: TerminalSize?
    }

    /// The watched terminal's size (the web view's player draws at it).
    public struct TerminalSize: Sendable, Equatable {
        public var columns: Int
        public var rows: Int

        public init(columns: Int, rows: Int) {
            self.columns = columns
            self.rows = rows
        }
    }

    public let info: Info
    private let watcherCapacity: Int
    private let state: Mutex<State>
    /// Set when ``requests`` holds something: the session's thread reads this flag every turn
    /// of its event loop, without taking the lock.
    private let hasRequests = Atomic<Bool>(false)
    /// Whether anyone watches: with nobody, an offer only feeds the ring.
    private let watcherCount = Atomic<Int>(0)

    public static let defaultRingCapacity = 64 * 1024
    public static let defaultWatcherCapacity = 1024 * 1024

    public init(info: Info, ringCapacity: Int = SessionBroadcast.defaultRingCapacity, watcherCapacity: Int = SessionBroadcast.defaultWatcherCapacity) {
        self.info = info
        self.watcherCapacity = watcherCapacity
        self.state = Mutex(State(ring: OutputRing(capacity: ringCapacity)))
    }

    // MARK: - The session's side

    /// Output the session just wrote to its user. Never blocks on a watcher.
    public func offer(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        state.withLock { state in
            state.ring.append(bytes)
            guard !state.watchers.isEmpty else { return }
            for id in state.watchers.keys { state.watchers[id]?.offer(bytes) }
        }
    }

    /// What watchers asked since the last call; nil (without locking) when nothing.
    public func takeRequests() -> Requests? {
        guard hasRequests.load(ordering: .acquiring) else { return nil }
        return state.withLock { state in
            hasRequests.store(false, ordering: .releasing)
            defer { state.requests = Requests() }
            return state.requests
        }
    }

    /// The user's terminal has this size now (a PTY request, a window change).
    public func resize(_ size: TerminalSize) {
        state.withLock { $0.size = size }
    }

    /// The session is over: watchers get what is left, then the end.
    public func end() {
        state.withLock { $0.ended = true }
    }

    // MARK: - The watchers' side

    public var isEnded: Bool { state.withLock { $0.ended } }
    /// Nil without a PTY.
    public var size: TerminalSize? { state.withLock { $0.size } }
    public var watchers: Int { watcherCount.load(ordering: .relaxed) }

    /// Starts a watch by `name`: its buffer starts with the recent output. Nil once the session ended.
    public func attach(name: String) -> Int? {
        state.withLock { state in
            guard !state.ended else { return nil }
            let id = state.nextWatcher
            state.nextWatcher += 1
            var buffer = WatcherBuffer(capacity: watcherCapacity)
            state.ring.contents.withUnsafeBytes { buffer.offer($0) }
            state.watchers[id] = buffer
            state.requests.watchersJoined.append(name)
            hasRequests.store(true, ordering: .releasing)
            watcherCount.add(1, ordering: .relaxed)
            return id
        }
    }

    /// Everything waiting for `watcher`, with a notice where bytes were skipped.
    public func take(watcher: Int) -> Delivery {
        state.withLock { state in
            guard var buffer = state.watchers[watcher] else { return Delivery(bytes: [], skipped: 0, ended: true) }
            let skipped = buffer.skipped
            let bytes = buffer.take()
            state.watchers[watcher] = buffer
            return Delivery(bytes: bytes, skipped: skipped, ended: state.ended)
        }
    }

    public func detach(watcher: Int) {
        state.withLock { state in
            guard state.watchers.removeValue(forKey: watcher) != nil else { return }
            watcherCount.subtract(1, ordering: .relaxed)
        }
    }

    /// Asks the session's thread to end the session; false when it already ended.
    @discardableResult
    public func requestTermination(by user: String, reason: String) -> Bool {
        state.withLock { state in
            guard !state.ended else { return false }
            state.requests.termination = Termination(by: user, reason: reason)
            hasRequests.store(true, ordering: .releasing)
            return true
        }
    }
}

/// The last `capacity` bytes of a session's output.
public struct OutputRing: Sendable {
    public let capacity: Int
    private var storage: [UInt8]
    /// Where the next byte goes.
    private var end = 0
    public private(set) var count = 0

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        self.storage = [UInt8](repeating: 0, count: self.capacity)
    }

    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        var bytes = bytes
        if bytes.count >= capacity {
            bytes = UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - capacity)...])
        }
        let first = min(bytes.count, capacity - end)
        storage.withUnsafeMutableBytes { storage in
            storage.baseAddress!.advanced(by: end).copyMemory(from: bytes.baseAddress!, byteCount: first)
            if first < bytes.count {
                storage.baseAddress!.copyMemory(from: bytes.baseAddress!.advanced(by: first), byteCount: bytes.count - first)
            }
        }
        end = (end + bytes.count) % capacity
        count = min(capacity, count + bytes.count)
    }

    public mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { append($0) }
    }

    /// The kept bytes, oldest first.
    public var contents: [UInt8] {
        let start = (end - count + capacity) % capacity
        if start + count <= capacity { return Array(storage[start..<(start + count)]) }
        return Array(storage[start...]) + Array(storage[..<end])
    }
}

/// What waits for one watcher, at most `capacity` bytes. A watcher that does not keep up
/// loses what does not fit, counted, until it takes what waits; the next take ends with a
/// visible notice of how much it lost, so the gap is never silent.
public struct WatcherBuffer: Sendable {
    public let capacity: Int
    private var pending: [UInt8] = []
    /// Bytes lost since the last take.
    public private(set) var skipped = 0

    public init(capacity: Int) {
        self.capacity = capacity
    }

    public var count: Int { pending.count }

    public mutating func offer(_ bytes: UnsafeRawBufferPointer) {
        // Once skipping, keep skipping until the watcher takes: later bytes must not come
        // before the notice of the earlier ones lost.
        if skipped == 0, pending.count + bytes.count <= capacity {
            pending.append(contentsOf: bytes)
        } else {
            skipped += bytes.count
        }
    }

    public mutating func offer(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { offer($0) }
    }

    /// What waits, then the notice of what was lost after it.
    public mutating func take() -> [UInt8] {
        var bytes = pending
        pending = []
        if skipped > 0 {
            bytes += Self.notice(skipped: skipped)
            skipped = 0
        }
        return bytes
    }

    public static func notice(skipped: Int) -> [UInt8] {
        Array("\r\n[bastion: watcher fell behind, \(skipped) bytes skipped]\r\n".utf8)
    }
}

/// The live sessions of this process that can be watched, by id.
public final class LiveSessionBroadcasts: Sendable {
    private let sessions = Mutex<[SessionID: SessionBroadcast]>([:])

    public init() {}

    public func register(_ broadcast: SessionBroadcast) {
        sessions.withLock { $0[broadcast.info.id] = broadcast }
    }

    /// The session ended: its watchers are told, and nobody new can find it.
    public func unregister(_ broadcast: SessionBroadcast) {
        broadcast.end()
        sessions.withLock { sessions in
            if sessions[broadcast.info.id] === broadcast { sessions.removeValue(forKey: broadcast.info.id) }
        }
    }

    public func session(id: SessionID) -> SessionBroadcast? {
        sessions.withLock { $0[id] }
    }

    /// Every live session, oldest first.
    public func all() -> [SessionBroadcast] {
        sessions.withLock { Array($0.values) }.sorted { ($0.info.startedAt, $0.info.id.rawValue) < ($1.info.startedAt, $1.info.id.rawValue) }
    }
}
