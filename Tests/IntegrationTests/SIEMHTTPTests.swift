import BastionApp
import BastionCore
import BastionStore
import BastionTesting
import Foundation
import Hummingbird
import Synchronization
import Testing

/// The `http` sink against a real HTTP server (Hummingbird on loopback) playing a Splunk HEC
/// endpoint that fails, recovers and refuses.
@Suite("SIEM http sink")
struct SIEMHTTPTests {
    /// What the receiver answers and what it saw.
    final class Receiver: Sendable {
        struct State {
            var failuresLeft = 0
            var refuseMarker: String?
            var bodies: [String] = []
            var authorizations: [String] = []
            var statuses: [Int] = []
        }
        let state = Mutex(State())

        func answer(body: String, authorization: String?) -> HTTPResponse.Status {
            state.withLock { state in
                state.bodies.append(body)
                state.authorizations.append(authorization ?? "")
                let status: HTTPResponse.Status
                if state.failuresLeft > 0 {
                    state.failuresLeft -= 1
                    status = .internalServerError
                } else if let marker = state.refuseMarker, body.contains(marker) {
                    status = .badRequest
                } else {
                    status = .ok
                }
                state.statuses.append(status.code)
                return status
            }
        }

        /// Event ids in bodies the receiver accepted.
        var acceptedIDs: Set<String> {
            state.withLock { state in
                Set(zip(state.bodies, state.statuses).filter { $0.1 == 200 }.flatMap { body, _ in
                    body.matches(of: /"event_id":"(bastion-test-\d+)"/).map { String($0.1) }
                })
            }
        }
    }

    /// Runs a HEC-like receiver on a free port for the length of `body`.
    static func withReceiver(_ receiver: Receiver, _ body: (Int) async throws -> Void) async throws {
        let router = Router()
        router.post("/services/collector/event") { request, _ -> Response in
            let bytes = try await request.body.collect(upTo: 16 * 1_048_576)
            let status = receiver.answer(body: String(buffer: bytes), authorization: request.headers[.authorization])
            return Response(status: status, body: .init(byteBuffer: ByteBuffer(string: status == .ok ? #"{"text":"Success","code":0}"# : #"{"text":"Invalid data format","code":6}"#)))
        }
        let port = Mutex<Int?>(nil)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } }
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            defer { group.cancelAll() }
            var bound: Int?
            for _ in 0..<100 where bound == nil {
                bound = port.withLock { $0 }
                if bound == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            try await body(try #require(bound, "the receiver did not start"))
        }
    }

    @Test("500s are retried until accepted, nothing lost; a 400 dead-letters just the refused record; Splunk authorization")
    func retriesAndDeadLetters() async throws {
        let receiver = Receiver()
        receiver.state.withLock { $0.failuresLeft = 2 }
        try await Self.withReceiver(receiver) { port in
            let config = """
                [siem]
                installation = "test"
                [[siem.sinks]]
                name = "splunk"
                kind = "http"
                url = "http://127.0.0.1:\(port)/services/collector/event"
                token = "t0k"
                """
            try await withBastion(extraConfig: config) { bastion in
                let log = bastion.environment.auditLog
                for index in 0..<10 { try log.append(AuditEvent(type: .userLock, time: Date(), target: "user\(index)")) }
                let last = try #require(try log.bounds()?.upperBound)
                let delivered = try await relayPoll(timeout: 30, interval: .milliseconds(100)) {
                    receiver.acceptedIDs.contains("bastion-test-\(last)")
                }
                #expect(delivered, "\(receiver.state.withLock { $0.statuses })")
                #expect(receiver.state.withLock { $0.statuses.prefix(2) } == [500, 500])
                #expect(receiver.state.withLock { $0.authorizations.allSatisfy { $0 == "Splunk t0k" } })
                let accepted = receiver.acceptedIDs
                let first = last - 9
                #expect((first...last).allSatisfy { accepted.contains("bastion-test-\($0)") })

                receiver.state.withLock { $0.refuseMarker = "poison" }
                try log.append(AuditEvent(type: .userLock, time: Date(), target: "fine-1"))
                try log.append(AuditEvent(type: .userLock, time: Date(), target: "poison"))
                try log.append(AuditEvent(type: .userLock, time: Date(), target: "fine-2"))
                let poison = last + 2
                let settled = try await relayPoll(timeout: 30, interval: .milliseconds(100)) {
                    try bastion.environment.siemOutbox.deadLetters(of: "splunk").count == 1
                        && receiver.acceptedIDs.contains("bastion-test-\(last + 3)")
                }
                #expect(settled, "\(receiver.state.withLock { $0.statuses })")
                let letters = try bastion.environment.siemOutbox.deadLetters(of: "splunk")
                #expect(letters.map(\.seq) == [poison])
                #expect(letters.first?.reason.contains("HTTP 400") == true, "\(letters)")
                #expect(receiver.acceptedIDs.contains("bastion-test-\(last + 1)"))
                #expect(!receiver.acceptedIDs.contains("bastion-test-\(poison)"))
            }
        }
    }
}
