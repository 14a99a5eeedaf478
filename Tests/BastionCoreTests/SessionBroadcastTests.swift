import BastionCore
import Foundation
import Synchronization
import Testing

/// Live watch without sockets: the ring of recent output, the bounded per-watcher buffers
/// that skip (visibly) instead of slowing the session, the requests left for the session's
/// thread, who may watch, and the watcher's conversation.
@Suite("Session broadcast")
struct SessionBroadcastTests {
    static let info = SessionBroadcast.Info(
        id: "0a1b2c3d4e5f6a7b", user: "alice", login: "root", target: "web01", grantID: nil, startedAt: Date(timeIntervalSince1970: 0)
    )

    static func offer(_ broadcast: SessionBroadcast, _ text: String) {
        Array(text.utf8).withUnsafeBytes { broadcast.offer($0) }
    }

    final class Summaries: Sendable {
        let list = Mutex<[WatchConversation.Summary]>([])
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test("the ring keeps the last bytes in order, across wraps and chunks larger than itself")
    func ring() {
        var ring = OutputRing(capacity: 8)
        ring.append(Array("abc".utf8))
        #expect(Self.text(ring.contents) == "abc")
        ring.append(Array("defgh".utf8))
        #expect(Self.text(ring.contents) == "abcdefgh")
        ring.append(Array("ij".utf8))
        #expect(Self.text(ring.contents) == "cdefghij")
        ring.append(Array("0123456789XY".utf8))
        #expect(Self.text(ring.contents) == "456789XY")
        ring.append(Array("z".utf8))
        #expect(Self.text(ring.contents) == "56789XYz")
        #expect(ring.count == 8)
    }

    @Test("a watcher's buffer is bounded: what does not fit is counted, and the notice follows what was kept")
    func boundedBuffer() {
        var buffer = WatcherBuffer(capacity: 10)
        buffer.offer(Array("123456".utf8))
        buffer.offer(Array("7890".utf8))
        #expect(buffer.count == 10)
        buffer.offer(Array("abc".utf8))
        // Room again would not matter: once skipping, later bytes wait for the notice.
        buffer.offer(Array("d".utf8))
        #expect(buffer.skipped == 4)
        #expect(buffer.count == 10)
        #expect(Self.text(buffer.take()) == "1234567890\r\n[bastion: watcher fell behind, 4 bytes skipped]\r\n")
        #expect(buffer.skipped == 0)
        buffer.offer(Array("e".utf8))
        #expect(Self.text(buffer.take()) == "e")
        #expect(buffer.take().isEmpty)
    }

    @Test("a new watcher starts with the recent output, then gets live bytes; without watchers only the ring is fed")
    func attachAndLive() throws {
        let broadcast = SessionBroadcast(info: Self.info, ringCapacity: 16, watcherCapacity: 1024)
        Self.offer(broadcast, "old output that scrolled away; recent")
        #expect(broadcast.watchers == 0)
        let id = try #require(broadcast.attach(name: "bob"))
        #expect(broadcast.watchers == 1)
        Self.offer(broadcast, "+live")
        let delivery = broadcast.take(watcher: id)
        #expect(Self.text(delivery.bytes) == "led away; recent+live")
        #expect(delivery.skipped == 0 && !delivery.ended)
        #expect(broadcast.take(watcher: id).bytes.isEmpty)
        broadcast.detach(watcher: id)
        #expect(broadcast.watchers == 0)
    }

    @Test("a watcher that falls behind loses bytes with a notice; another watcher and the session are not affected")
    func slowWatcher() throws {
        let broadcast = SessionBroadcast(info: Self.info, ringCapacity: 4, watcherCapacity: 8)
        let slow = try #require(broadcast.attach(name: "bob"))
        let fast = try #require(broadcast.attach(name: "carol"))
        for chunk in ["aaaa", "bbbb"] { Self.offer(broadcast, chunk) }
        #expect(Self.text(broadcast.take(watcher: fast).bytes) == "aaaabbbb")
        for chunk in ["cccc", "dddd", "eeee"] { Self.offer(broadcast, chunk) }  // returns at once, whoever watches
        #expect(Self.text(broadcast.take(watcher: fast).bytes) == "ccccdddd\r\n[bastion: watcher fell behind, 4 bytes skipped]\r\n")
        let behind = broadcast.take(watcher: slow)
        #expect(behind.skipped == 12)
        #expect(Self.text(behind.bytes) == "aaaabbbb\r\n[bastion: watcher fell behind, 12 bytes skipped]\r\n")
    }

    @Test("watch starts and a termination reach the session's thread once; the end reaches watchers after the last bytes")
    func requestsAndEnd() throws {
        let broadcast = SessionBroadcast(info: Self.info)
        #expect(broadcast.takeRequests() == nil)
        let id = try #require(broadcast.attach(name: "bob"))
        _ = broadcast.attach(name: "carol")
        #expect(broadcast.requestTermination(by: "bob", reason: "stop that"))
        let requests = try #require(broadcast.takeRequests())
        #expect(requests.watchersJoined == ["bob", "carol"])
        #expect(requests.termination == .init(by: "bob", reason: "stop that"))
        #expect(broadcast.takeRequests() == nil)

        Self.offer(broadcast, "last words")
        broadcast.end()
        let delivery = broadcast.take(watcher: id)
        #expect(Self.text(delivery.bytes) == "last words")
        #expect(delivery.ended)
        #expect(broadcast.attach(name: "dave") == nil)
        #expect(!broadcast.requestTermination(by: "bob", reason: "again"))
    }

    @Test("the registry finds a live session by id until it ends, and ending tells its watchers")
    func registry() {
        let broadcasts = LiveSessionBroadcasts()
        let broadcast = SessionBroadcast(info: Self.info)
        broadcasts.register(broadcast)
        #expect(broadcasts.session(id: Self.info.id) === broadcast)
        #expect(broadcasts.session(id: "ffff") == nil)
        broadcasts.unregister(broadcast)
        #expect(broadcasts.session(id: Self.info.id) == nil)
        #expect(broadcast.isEnded)
    }

    @Test("auditors may watch any live session; approvers only the session of their grant; everyone else is refused alike")
    func permission() {
        #expect(WatchPermission.decide(isAuditor: true, user: "carol", sessionExists: true, grantApprovers: []) == .allowed(as: .auditor))
        #expect(WatchPermission.decide(isAuditor: true, user: "carol", sessionExists: false, grantApprovers: []) == .noSuchSession)
        #expect(WatchPermission.decide(isAuditor: false, user: "bob", sessionExists: true, grantApprovers: ["bob"]) == .allowed(as: .approver))
        #expect(WatchPermission.decide(isAuditor: false, user: "dave", sessionExists: true, grantApprovers: ["bob"]) == .refused)
        #expect(WatchPermission.decide(isAuditor: false, user: "bob", sessionExists: true, grantApprovers: []) == .refused)
        #expect(WatchPermission.decide(isAuditor: false, user: "bob", sessionExists: true, grantApprovers: nil) == .refused, "grant unreadable: fail closed")
        // The same answer whether the session exists or not.
        #expect(WatchPermission.decide(isAuditor: false, user: "dave", sessionExists: false, grantApprovers: []) == .refused)
    }

    @Test("watch parses; --terminate needs a reason, which loses its control characters")
    func parsing() throws {
        #expect(try BastionCommand(commandLine: "watch 0a1b") == .watch(.init(id: "0a1b")))
        #expect(try BastionCommand(commandLine: "watch 0a1b --terminate --reason rm -rf seen") == .watch(.init(id: "0a1b", termination: "rm -rf seen")))
        #expect(try BastionCommand(commandLine: "watch 0a1b --terminate --reason 'a\u{1B}[2Jb'") == .watch(.init(id: "0a1b", termination: "a [2Jb")))
        #expect(try BastionCommand(commandLine: "watch 0a1b --terminate --reason x").auditName == "watch --terminate")
        #expect(try BastionCommand(commandLine: "watch") == .liveSessions)
        for (line, words) in [("watch x y", "name one session id"), ("watch x --terminate", "needs a reason"), ("watch x --reason y", "goes with --terminate")] {
            #expect {
                try BastionCommand(commandLine: line)
            } throws: { error in
                (error as? BastionCommand.ParseError)?.message.contains(words) == true
            }
        }
    }

    @Test("the watcher's conversation: banner and backlog, live bytes, keys never forwarded, q leaves; the end is reported")
    func conversation() throws {
        let broadcast = SessionBroadcast(info: Self.info)
        Self.offer(broadcast, "$ ")
        let summaries = Summaries()
        let watch = WatchConversation(broadcast: broadcast, watcher: "bob") { summary in summaries.list.withLock { $0.append(summary) } }
        let now = Date(timeIntervalSince1970: 100)
        let start = watch.start(now: now)
        #expect(start.verbatim && start.exitStatus == nil)
        #expect(Self.text(start.stdout).hasSuffix("watching 0a1b2c3d4e5f6a7b (alice root@web01), read-only, q leaves\r\n$ "))
        #expect(broadcast.takeRequests()?.watchersJoined == ["bob"])
        Self.offer(broadcast, "ls\r\n")
        #expect(Self.text(watch.tick(now: now).stdout) == "ls\r\n")
        #expect(watch.receive(Array("rm -rf /\r".utf8), now: now) == .nothing)
        #expect(watch.tick(now: now) == .nothing)
        let quit = watch.receive(Array("q".utf8), now: now.addingTimeInterval(2))
        #expect(quit.exitStatus == 0)
        #expect(Self.text(quit.stdout).contains("watch of session 0a1b2c3d4e5f6a7b stopped"))
        #expect(broadcast.watchers == 0)
        #expect(summaries.list.withLock { $0 } == [.init(end: "quit", duration: 2, bytes: 6, skipped: 0)])

        let second = WatchConversation(broadcast: broadcast, watcher: "carol") { summary in summaries.list.withLock { $0.append(summary) } }
        _ = second.start(now: now)
        Self.offer(broadcast, "logout\r\n")
        broadcast.end()
        let ended = second.tick(now: now)
        #expect(ended.exitStatus == 0)
        #expect(Self.text(ended.stdout).hasPrefix("logout\r\n\r\nbastion: session 0a1b2c3d4e5f6a7b ended\r\n"))
        #expect(summaries.list.withLock { $0.last?.end } == "session ended")
        // A reload that takes the watcher's role away ends the watch at the next check (once a second).
        let allowed = Mutex(true)
        let third = WatchConversation(broadcast: SessionBroadcast(info: Self.info), watcher: "erin", stillAllowed: { allowed.withLock { $0 } }) { summary in
            summaries.list.withLock { $0.append(summary) }
        }
        _ = third.start(now: now)
        #expect(third.tick(now: now.addingTimeInterval(1)) == .nothing)
        allowed.withLock { $0 = false }
        #expect(third.tick(now: now.addingTimeInterval(1.5)) == .nothing, "checked at most once a second")
        let withdrawn = third.tick(now: now.addingTimeInterval(2))
        #expect(withdrawn.exitStatus == 1)
        #expect(Self.text(withdrawn.stdout).contains("bastion: you may no longer watch session 0a1b2c3d4e5f6a7b"))
        #expect(summaries.list.withLock { $0.last?.end } == "permission withdrawn")

        let late = WatchConversation(broadcast: broadcast, watcher: "dave") { _ in }
        #expect(Self.text(late.start(now: now).stdout).contains("bastion: session 0a1b2c3d4e5f6a7b ended"))
    }
}
