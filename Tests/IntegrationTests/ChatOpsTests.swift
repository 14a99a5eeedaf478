import BastionApp
import BastionCore
import BastionCrypto
import BastionStore
import BastionTesting
import Foundation
import Hummingbird
import Synchronization
import Testing

/// Chat-ops end to end: a real bastiond posts elevation messages to a real HTTP receiver
/// (Hummingbird on loopback) through the durable outbox, and takes Slack button clicks over
/// real HTTP.
@Suite("Chat-ops webhooks and Slack actions")
struct ChatOpsTests {
    /// One POST the receiver saw.
    struct Post: Sendable {
        var path: String
        var headers: [String: String]
        var body: String

        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]) ?? [:] }
    }

    final class Receiver: Sendable {
        let posts = Mutex<[Post]>([])
        /// Statuses to answer on a path before answering 200, one per post.
        let script = Mutex<[String: [Int]]>([:])
        /// Posts to `/hook/refuse` whose body contains this text are refused with 400, every time.
        let refuseMarker = Mutex<String?>(nil)
        /// While true, every post is recorded but not answered.
        let holding = Mutex(false)
        /// How many posts were answered.
        let answered = Mutex(0)

        func on(_ path: String) -> [Post] { posts.withLock { $0.filter { $0.path == path } } }

        func status(for path: String, body: String) -> Int {
            if path == "refuse", let marker = refuseMarker.withLock({ $0 }), body.contains(marker) { return 400 }
            return script.withLock { script in script[path]?.isEmpty == false ? script[path]!.removeFirst() : 200 }
        }
    }

    /// Runs a webhook receiver (any path under `/hook/`) on `port` (0: a free one) for the
    /// length of `body`; stopped when `body` returns or throws.
    static func withReceiver(_ receiver: Receiver, port requested: Int = 0, _ body: (Int) async throws -> Void) async throws {
        let router = Router()
        router.post("/hook/{kind}") { request, context -> Response in
            let bytes = try await request.body.collect(upTo: 1_048_576)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let kind = context.parameters.get("kind") ?? ""
            let text = String(buffer: bytes)
            receiver.posts.withLock { $0.append(Post(path: kind, headers: headers, body: text)) }
            while receiver.holding.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(50)) }
            receiver.answered.withLock { $0 += 1 }
            return Response(status: .init(code: receiver.status(for: kind, body: text)), body: .init(byteBuffer: ByteBuffer(string: "ok")))
        }
        let port = Mutex<Int?>(nil)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: requested)),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } }
        )
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService(gracefulShutdownSignals: []) }
            defer {
                receiver.holding.withLock { $0 = false }  // so a failed test cannot leave a handler waiting
                group.cancelAll()
            }
            var bound: Int?
            for _ in 0..<200 where bound == nil {
                bound = port.withLock { $0 }
                if bound == nil { try await Task.sleep(for: .milliseconds(50)) }
            }
            try await body(try #require(bound, "the receiver did not start"))
        }
    }

    static let secretKey = Array("bastion-chatops-test-key-32bytes".utf8)
    static let whsec = "whsec_" + Data(secretKey).base64EncodedString()
    static let slackSecret = "test-slack-signing-secret"

    /// A target, a role that may elevate to root there, and one that may approve it.
    static let policy = """
        [roles.sre]
        targets = ["web*"]
        logins = ["deploy"]
        elevated_logins = ["root"]
        max_elevation = "1h"
        [roles.approver]
        approve_targets = ["web*"]
        approve_logins = ["root"]
        [targets.web01]
        address = "127.0.0.1:1"
        host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJG0CHKyK+L6cqs4WBIdUgegtNkBJFdy+kOJwvZqiB/Y"
        """

    static func webhook(_ kind: String, port: Int, secret: Bool = false) -> String {
        """
        [[chatops.webhooks]]
        name = "\(kind)"
        kind = "\(kind)"
        url = "http://127.0.0.1:\(port)/hook/\(kind)"
        \(secret ? "secret = \"\(whsec)\"" : "")
        """
    }

    static func file(_ bastion: BastionHarness, requester: String = "alice") throws -> ElevationRequest {
        let elevation = bastion.environment.elevation(audit: bastion.environment.auditLog)
        let user = try #require(try bastion.environment.users.user(named: UserName(requester)!))
        let caller = ElevationService.Caller(actor: .init(user: requester, method: "publickey"), via: "ssh")
        return try elevation.request(by: user, target: "web01", login: "root", reason: "disk full on /var", duration: 600, origin: "ssh", caller: caller)
            .get().0
    }

    static func approve(_ bastion: BastionHarness, _ id: ElevationID, by approver: Engineer) async throws -> ElevationRequest {
        let elevation = bastion.environment.elevation(audit: bastion.environment.auditLog)
        let code = try await approver.currentCode()
        let caller = ElevationService.Caller(actor: .init(user: approver.name, method: "publickey+totp"), via: "ssh")
        return try elevation.decide(id: id, approve: true, approver: UserName(approver.name)!, proof: .totp(code), comment: "go ahead", caller: caller).get()
    }

    @Test("a request reaches slack, teams, mattermost and generic with the approval link; the generic signature verifies; the approval follows")
    func requestAndFollowUp() async throws {
        let receiver = Receiver()
        try await Self.withReceiver(receiver) { port in
            let config = "[siem]\ninstallation = \"chat\"\n[chatops]\nmax_retry_delay = \"2s\"\n"
                + ["slack", "teams", "mattermost"].map { Self.webhook($0, port: port) }.joined(separator: "\n") + "\n"
                + Self.webhook("generic", port: port, secret: true) + "\n" + Self.policy
            try await withBastion(extraConfig: config) { bastion in
                _ = try await bastion.enroll("alice", roles: ["sre"])
                let bob = try await bastion.enroll("bob", roles: ["approver"])
                let request = try Self.file(bastion)
                let link = bastion.environment.elevation(audit: bastion.environment.auditLog).links.url(for: request.id)
                let arrived = try await relayPoll(timeout: 60) {
                    ["slack", "teams", "mattermost", "generic"].allSatisfy { receiver.on($0).contains { $0.body.contains(link) } }
                }
                #expect(arrived, "\(receiver.posts.withLock { $0.map(\.path) })")

                let slack = try #require(receiver.on("slack").first)
                #expect((slack.json["blocks"] as? [[String: Any]])?.isEmpty == false)
                #expect(slack.body.contains("disk full on /var") && slack.body.contains("web01"))
                let teams = try #require(receiver.on("teams").first)
                #expect(teams.body.contains("application/vnd.microsoft.card.adaptive") && teams.body.contains("Action.OpenUrl"))

                let generic = try #require(receiver.on("generic").first)
                #expect(generic.json["type"] as? String == "elevation.requested")
                #expect(generic.json["approve_url"] as? String == link)
                let id = try #require(generic.headers["webhook-id"])
                let timestamp = try #require(generic.headers["webhook-timestamp"])
                #expect(id.hasPrefix("bastion-chat-"))
                // Verified with the primitive, not with the code that signed it.
                let expected = "v1," + Data(HMAC.sha256(key: Self.secretKey, message: Array("\(id).\(timestamp).\(generic.body)".utf8))).base64EncodedString()
                #expect(generic.headers["webhook-signature"] == expected)
                #expect(abs(Double(timestamp)! - Date().timeIntervalSince1970) < 120)

                let approved = try await Self.approve(bastion, request.id, by: bob)
                #expect(approved.state == .active)
                let followed = try await relayPoll(timeout: 60) {
                    receiver.on("generic").contains { $0.json["type"] as? String == "elevation.approved" }
                        && receiver.on("slack").contains { $0.body.contains("approved by bob") }
                }
                #expect(followed)
                let followUp = try #require(receiver.on("generic").first { $0.json["type"] as? String == "elevation.approved" })
                #expect(followUp.json["approver"] as? String == "bob" && followUp.json["comment"] as? String == "go ahead")
                #expect(followUp.json["approve_url"] == nil)
                #expect(!receiver.posts.withLock { $0 }.contains { $0.body.contains("elevation.refused") })

                // Without [chatops.slack] interactive = true the actions endpoint does not exist.
                let answer = try await Self.curl(port: bastion.endpoints.httpPort, body: "payload=%7B%7D", headers: [:])
                #expect(answer.status == 404, "\(answer)")
            }
        }
    }

    /// No wall-clock bound: the webhook holds the request's message unanswered while the
    /// approval happens, so a state machine that waited for chat could not decide at all.
    @Test("a webhook that takes a message and does not answer holds up no decision")
    func unansweredWebhook() async throws {
        let receiver = Receiver()
        receiver.holding.withLock { $0 = true }
        try await Self.withReceiver(receiver) { port in
            let config = "[chatops]\nmax_retry_delay = \"1s\"\n" + Self.webhook("generic", port: port, secret: true) + "\n" + Self.policy
            try await withBastion(extraConfig: config) { bastion in
                _ = try await bastion.enroll("alice", roles: ["sre"])
                let bob = try await bastion.enroll("bob", roles: ["approver"])
                let request = try Self.file(bastion)
                func types() -> [String] { receiver.on("generic").compactMap { $0.json["type"] as? String } }
                let posted = try await relayPoll(timeout: 30) { types().contains("elevation.requested") }
                #expect(posted, "the request's message reached the webhook")

                let approved = try await Self.approve(bastion, request.id, by: bob)
                #expect(approved.state == .active)
                #expect(receiver.answered.withLock { $0 } == 0, "decided while the webhook still held the first message")

                receiver.holding.withLock { $0 = false }
                let followed = try await relayPoll(timeout: 60) { types().contains("elevation.approved") }
                #expect(followed, "\(types())")
            }
        }
    }

    @Test("a webhook that is down while a request is filed and decided gets both messages once it is up")
    func downThenUp() async throws {
        var refusing: RefusingPort? = try RefusingPort()
        let port = try #require(refusing?.port)
        let config = "[siem]\ninstallation = \"chat\"\n[chatops]\nmax_retry_delay = \"1s\"\n" + Self.webhook("generic", port: port, secret: true) + "\n" + Self.policy
        try await withBastion(extraConfig: config) { bastion in
            _ = try await bastion.enroll("alice", roles: ["sre"])
            let bob = try await bastion.enroll("bob", roles: ["approver"])
            let request = try Self.file(bastion)
            let approved = try await Self.approve(bastion, request.id, by: bob)
            #expect(approved.state == .active, "decided while the webhook was down")
            let failing = try await relayPoll(timeout: 30) {
                (try bastion.environment.siemOutbox.state(of: "chatops:generic")?.lastError) != nil
            }
            #expect(failing, "the relay tried and failed while the webhook was down")

            refusing = nil
            let receiver = Receiver()
            try await Self.withReceiver(receiver, port: port) { _ in
                let arrived = try await relayPoll(timeout: 60) {
                    let types = receiver.on("generic").compactMap { $0.json["type"] as? String }
                    return types.contains("elevation.requested") && types.contains("elevation.approved")
                }
                #expect(arrived, "\(receiver.on("generic").map(\.body))")
                let types = receiver.on("generic").compactMap { $0.json["type"] as? String }
                #expect(types.firstIndex(of: "elevation.requested")! < types.firstIndex(of: "elevation.approved")!, "in order")
                #expect(receiver.on("generic").first?.json["request_id"] as? String == request.id.rawValue)
            }
        }
        _ = refusing
    }

    @Test("a 429 or 503 is retried; a 400 dead-letters that message (reason without the URL) and the next one still goes")
    func retryAndDeadLetter() async throws {
        let receiver = Receiver()
        receiver.script.withLock { $0 = ["busy": [429, 503]] }
        // The request's Mattermost message is refused whenever it comes (batched or alone).
        receiver.refuseMarker.withLock { $0 = "requests root" }
        try await Self.withReceiver(receiver) { port in
            let config = "[chatops]\nmax_retry_delay = \"1s\"\n" + Self.webhook("busy", port: port).replacingOccurrences(of: "kind = \"busy\"", with: "kind = \"teams\"")
                + "\n" + Self.webhook("refuse", port: port).replacingOccurrences(of: "kind = \"refuse\"", with: "kind = \"mattermost\"") + "\n" + Self.policy
            try await withBastion(extraConfig: config) { bastion in
                _ = try await bastion.enroll("alice", roles: ["sre"])
                let bob = try await bastion.enroll("bob", roles: ["approver"])
                let request = try Self.file(bastion)
                _ = try await Self.approve(bastion, request.id, by: bob)
                let settled = try await relayPoll(timeout: 60) {
                    try receiver.on("busy").count >= 4 && receiver.on("refuse").contains { $0.body.contains("approved by bob") }
                        && bastion.environment.siemOutbox.deadLetters(of: "chatops:refuse").count == 1
                }
                #expect(settled, "\(receiver.posts.withLock { $0.map(\.path) })")
                // busy: the request refused with 429, then 503, then delivered; then the approval,
                // once (one record per step: a failure never re-sends a message already delivered).
                #expect(receiver.on("busy").map { $0.body.contains("approved by bob") } == [false, false, false, true])
                let letters = try bastion.environment.siemOutbox.deadLetters(of: "chatops:refuse")
                #expect(letters.count == 1, "\(letters)")
                #expect(letters.first?.reason.contains("HTTP 400") == true && letters.first?.reason.contains("127.0.0.1") == false, "\(letters)")
                #expect(receiver.on("refuse").last?.body.contains("approved by bob") == true)
                #expect(try bastion.environment.siemOutbox.deadLetters(of: "chatops:busy").isEmpty)
            }
        }
    }

    // MARK: - Slack actions

    /// POSTs `body` to the Slack actions endpoint with curl; the status and the answer.
    static func curl(port: Int, body: String, headers: [String: String]) async throws -> (status: Int, body: String) {
        var arguments = ["-s", "-m", "20", "-o", "-", "-w", "\n%{http_code}", "-X", "POST", "-H", "Content-Type: application/x-www-form-urlencoded"]
        for (name, value) in headers { arguments += ["-H", "\(name): \(value)"] }
        arguments += ["--data-binary", "@-", "http://127.0.0.1:\(port)/chatops/slack/actions"]
        let result = try await ProcessRunner.run("curl", arguments, input: Data(body.utf8), timeout: 30)
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? -1, lines.dropLast().joined(separator: "\n"))
    }

    /// A Slack `block_actions` form body for `user` clicking `action` on request `id`.
    static func click(user: String, action: String, id: ElevationID) -> String {
        let payload = #"{"type":"block_actions","user":{"id":"\#(user)","username":"x"},"actions":[{"action_id":"\#(action)","value":"\#(id)","type":"button"}]}"#
        return "payload=" + payload.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
    }

    static func signed(_ body: String, secret: String = slackSecret, at time: Date) -> [String: String] {
        let timestamp = String(Int(time.timeIntervalSince1970))
        let mac = HMAC.sha256(key: Array(secret.utf8), message: Array("v0:\(timestamp):\(body)".utf8))
        return ["X-Slack-Request-Timestamp": timestamp, "X-Slack-Signature": "v0=" + mac.map { String(format: "%02x", $0) }.joined()]
    }

    @Test("Slack buttons: forged, stale, unknown user and self-approval are refused and audited; a valid click approves")
    func slackActions() async throws {
        let config = """
            [chatops.slack]
            interactive = true
            signing_secret = "\(Self.slackSecret)"
            users = { UBOB = "bob", UALICE = "alice" }
            \(Self.policy)
            """
        try await withBastion(extraConfig: config) { bastion in
            _ = try await bastion.enroll("alice", roles: ["sre", "approver"])
            _ = try await bastion.enroll("bob", roles: ["approver"])
            let request = try Self.file(bastion)
            let port = bastion.endpoints.httpPort
            let approve = Self.click(user: "UBOB", action: SlackMessage.approveAction, id: request.id)
            func refusals() throws -> [(reason: String, details: [String: String])] {
                try bastion.auditRecords("elevation.refused").map { ($0["reason"] as? String ?? "", $0["details"] as? [String: String] ?? [:]) }
            }

            let forged = try await Self.curl(port: port, body: approve, headers: Self.signed(approve, secret: "not-the-secret", at: bastion.clock.now()))
            #expect(forged.status == 401, "\(forged)")
            #expect(try refusals().last?.reason == "Slack signature does not match")

            let stale = try await Self.curl(port: port, body: approve, headers: Self.signed(approve, at: bastion.clock.now().addingTimeInterval(-600)))
            #expect(stale.status == 401, "\(stale)")
            #expect(try refusals().last?.reason.contains("5-minute window") == true)

            let strangerClick = Self.click(user: "UMALLORY", action: SlackMessage.approveAction, id: request.id)
            let stranger = try await Self.curl(port: port, body: strangerClick, headers: Self.signed(strangerClick, at: bastion.clock.now()))
            #expect(stranger.status == 200 && !stranger.body.contains("Approved"), "\(stranger)")
            #expect(try refusals().last?.reason.contains("UMALLORY is not mapped") == true)

            let selfClick = Self.click(user: "UALICE", action: SlackMessage.approveAction, id: request.id)
            let selfApproval = try await Self.curl(port: port, body: selfClick, headers: Self.signed(selfClick, at: bastion.clock.now()))
            #expect(selfApproval.status == 200 && !selfApproval.body.contains("Approved"), "\(selfApproval)")
            #expect(try refusals().last?.reason == "you cannot decide your own request")

            let all = try refusals()
            #expect(all.count == 4, "\(all)")
            #expect(all.allSatisfy { $0.details["via"] == "slack" })
            #expect(all.prefix(3).allSatisfy { $0.details["action"] == "slack" })
            #expect(forged.body.contains("ephemeral") && !forged.body.contains("signature"), "tell the peer nothing")
            let elevation = bastion.environment.elevation(audit: bastion.environment.auditLog)
            #expect(try elevation.request(id: request.id)?.state == .requested)

            let valid = try await Self.curl(port: port, body: approve, headers: Self.signed(approve, at: bastion.clock.now()))
            #expect(valid.status == 200 && valid.body.contains("Approved request \(request.id)"), "\(valid)")
            let granted = try #require(try elevation.request(id: request.id))
            #expect(granted.state == .active)
            #expect(granted.decisions.map(\.approver) == ["bob"] && granted.decisions.first?.via == "slack")
            let approvals = try bastion.auditRecords("elevation.approved")
            #expect((approvals.last?["actor"] as? [String: String])?["method"] == "slack")
        }
    }
}
