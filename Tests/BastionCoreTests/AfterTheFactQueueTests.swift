import BastionCore
import Foundation
import Synchronization
import Testing

/// Records of what already happened wait for a store that does not answer, in order.
@Suite("After-the-fact queue")
struct AfterTheFactQueueTests {
    final class FlakyStore: Sendable {
        let state = Mutex<(down: Bool, written: [String], attempts: Int)>((false, [], 0))
        func write(_ item: String) throws {
            try state.withLock { state in
                state.attempts += 1
                if state.down { throw CocoaError(.fileWriteUnknown) }
                state.written.append(item)
            }
        }
    }

    @Test("written at once when the store answers; kept and retried in order while it does not")
    func retriesInOrder() async throws {
        let store = FlakyStore()
        let failures = Mutex<[String]>([])
        let queue = AfterTheFactQueue(retryInterval: 0.05) { label, _ in failures.withLock { $0.append(label) } }
        queue.run("a") { try store.write("a") }
        #expect(store.state.withLock { $0.written } == ["a"])
        #expect(queue.backlog == 0)

        store.state.withLock { $0.down = true }
        queue.run("b") { try store.write("b") }
        queue.run("c") { try store.write("c") }  // waits behind b, not tried before it
        #expect(queue.backlog == 2)
        try await Task.sleep(for: .milliseconds(200))
        #expect(store.state.withLock { $0.written } == ["a"])
        store.state.withLock { $0.down = false }
        let deadline = Date().addingTimeInterval(5)
        while queue.backlog > 0, Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(store.state.withLock { $0.written } == ["a", "b", "c"])
        #expect(failures.withLock { $0.first } == "b")
        #expect(!failures.withLock { $0.contains("c") }, "c was never tried before b went through")
    }
}
