import Synchronization

/// The port the SSH front door bound, known once it listens (`ssh.listen` may say 0).
final class BoundPort: Sendable {
    private let port = Atomic<Int>(0)

    func set(_ value: Int) { port.store(value, ordering: .relaxed) }

    var value: Int { port.load(ordering: .relaxed) }
}
