import BastionTesting
import Testing

/// The executor the integration harness gives each in-process bastiond: a task that prefers
/// it, and that task's children, run on its thread and nowhere else.
@Suite("ThreadExecutor")
struct ThreadExecutorTests {
    @Test("a preferring task and its child tasks run on the executor's thread, across suspensions")
    func runsOnItsThread() async throws {
        let executor = ThreadExecutor()
        let answers = try await Task(executorPreference: executor) { () -> [Bool] in
            var seen = [onThread(executor)]
            try await Task.sleep(for: .milliseconds(10))
            seen.append(onThread(executor))
            let children = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<4 { group.addTask { onThread(executor) } }
                return await group.reduce(into: []) { $0.append($1) }
            }
            return seen + children
        }.value
        #expect(answers == Array(repeating: true, count: 6))
        // Without the preference, the same question is answered no.
        #expect(await Task { onThread(executor) }.value == false)
    }
}

/// A synchronous function: `Thread.current` is not for async code, which is what this asks about.
private func onThread(_ executor: ThreadExecutor) -> Bool { executor.isCurrentThread }
