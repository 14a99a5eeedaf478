import BastionCore
import BastionCrypto
import BastionHTTP
import BastionStore
import BastionTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Prometheus
import Testing

/// Every HTTP route the daemon serves, through its own router and Hummingbird's test client
/// (no sockets): what an unauthenticated, malformed or wrong request gets, and that each
/// refusal is audited with the request's connection block.
@Suite("HTTP routes")
struct RouteTests {
    /// Core services over in-memory stores, as BastionApp wires them.
    struct Fixture {
        let clock = ManualClock()
        let users = InMemoryUserStore()
        let sessions = InMemorySessionStore()
        let elevations = InMemoryElevationStore()
        let audit = RecordingAuditEmitter()
        let sealer = SecretSealer(masterKey: .random())
        let policy: Policy
        let webStore: SQLiteWebSessionStore

        init() throws {
            var ops = Role(name: "ops", targets: ["web*"], logins: ["deploy"], maxCertificateTTL: 3_600)
            ops.elevatedLogins = ["root"]
            var approver = Role(name: "approver", maxCertificateTTL: 3_600)
            approver.approveTargets = ["*"]
            approver.approveLogins = ["root"]
            var auditor = Role(name: "auditor", maxCertificateTTL: 3_600)
            auditor.audit = true
            let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJG0CHKyK+L6cqs4WBIdUgegtNkBJFdy+kOJwvZqiB/Y"
            policy = Policy(
                roles: ["ops": ops, "approver": approver, "auditor": auditor],
                targets: ["web01": TargetDefinition(name: "web01", host: "10.0.0.5", hostKey: key)]
            )
            for (name, roles) in [("alice", ["ops"]), ("bob", ["approver"]), ("carol", ["auditor"])] {
                let user = try #require(UserName(name))
                try users.createUser(
                    User(name: user, roles: roles, createdAt: clock.now()), key: SSHPublicKey(ed25519: try Ed25519PrivateKey().publicKey),
                    sealedTOTPSecret: try sealer.sealTOTPSecret(TOTPSecret.random(), for: user)
                )
            }
            webStore = SQLiteWebSessionStore(database: try BastionDatabase.inMemory())
        }

        var links: ApprovalLink { ApprovalLink(key: sealer.derivedKey(purpose: "approval-links"), publicURL: "https://bastion.example.com") }
        var tokens: TargetToken { TargetToken(key: sealer.derivedKey(purpose: TargetToken.purpose)) }

        var elevation: ElevationService {
            ElevationService(
                store: elevations, users: users, policy: policy, settings: .defaults,
                stepUp: StepUpVerifier(users: users, sealer: sealer, settings: AuthenticationSettings()), audit: audit, clock: clock, links: links
            )
        }

        var webSessions: WebSessions {
            WebSessions(store: webStore, users: users, policy: policy, audit: audit, clock: clock, publicURL: "https://bastion.example.com")
        }

        func application(slack: Bool = false, mutualTLS: Bool = false, broadcasts: LiveSessionBroadcasts? = nil) -> some ApplicationProtocol {
            let router = OperationsRouter.make(registry: PrometheusCollectorRegistry(), isHealthy: { true })
            HTTPRoutes.register(on: router, context: HTTPRouteContext(
                elevation: elevation, audit: audit, clock: clock, logger: Logger(label: "test"),
                sudoCheck: SudoCheck(elevation: elevation, users: users, sessions: sessions, policy: policy, tokens: tokens, audit: audit, clock: clock),
                webSessions: webSessions, archive: EmptyArchive(), assetsDirectory: "/nonexistent", sshPort: 2222, publicHost: "bastion.example.com",
                slackActions: slack
                    ? SlackActionHandler(users: [:], signature: SlackRequestSignature(signingSecret: "s3cret"), elevation: elevation, audit: audit, clock: clock)
                    : nil,
                requireClientCertificate: mutualTLS, broadcasts: broadcasts
            ))
            return Application(router: router)
        }

        /// A pending request by alice for root on web01, and its approval link's path.
        func pendingRequest() throws -> (id: ElevationID, path: String) {
            let name = try #require(UserName("alice"))
            let alice = try #require(try users.user(named: name))
            let (request, _) = try elevation.request(
                by: alice, target: "web01", login: "root", reason: "disk full", duration: 600, origin: "ssh",
                caller: .init(actor: .init(user: "alice"), via: "ssh")
            ).get()
            return (request.id, "/approve/" + links.token(for: request.id))
        }

        func refusals(_ type: AuditEventType) -> [AuditEvent] { audit.recorded.filter { $0.type == type } }
    }

    /// No recordings: the web view's pages that need one are not these tests' business.
    struct EmptyArchive: SessionArchive {
        func search(_ query: SessionQuery) throws -> [IndexedSession] { [] }
        func session(id: SessionID) throws -> IndexedSession? { nil }
        func verify(_ session: IndexedSession) -> RecordingVerdict { .refused("none") }
        func readVerified(_ session: IndexedSession) -> Result<Data, RecordingRefusal> { .failure(RecordingRefusal(reason: "none")) }
    }

    static func form(_ fields: [String: String]) -> ByteBuffer {
        ByteBuffer(string: fields.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(separator: "&"))
    }

    @Test("/healthz answers ok")
    func health() async throws {
        try await Fixture().application().test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body) == "ok\n")
            }
        }
    }

    @Test("an approval link that was not made by this bastion: 404, audited with the request's connection")
    func forgedApprovalLink() async throws {
        let fixture = try Fixture()
        try await fixture.application().test(.router) { client in
            for method in [HTTPRequest.Method.get, .post] {
                try await client.execute(uri: "/approve/0000abcd.forged", method: method) { response in
                    #expect(response.status == .notFound)
                    #expect(response.headers[.cacheControl] == "no-store")
                }
            }
        }
        let refused = fixture.refusals(.elevationRefused)
        #expect(refused.count == 2)
        #expect(refused.allSatisfy { $0.connection?.id.rawValue.hasPrefix("http-") == true && $0.reason == ElevationRefusal.linkInvalid.description })
    }

    @Test("an approval page: shown for a pending request; a wrong choice is a bad request; a wrong code is refused without saying which part")
    func approvalPage() async throws {
        let fixture = try Fixture()
        let (id, path) = try fixture.pendingRequest()
        try await fixture.application().test(.router) { client in
            try await client.execute(uri: path, method: .get) { response in
                #expect(response.status == .ok)
                let page = String(buffer: response.body)
                #expect(page.contains(id.rawValue) && page.contains("disk full"), "\(page)")
                #expect(response.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
            }
            let headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            try await client.execute(uri: path, method: .post, headers: headers, body: Self.form(["decision": "maybe", "username": "bob", "code": "123456"])) {
                #expect($0.status == .badRequest)
            }
            for username in ["bob", "nobody", "Not A Name"] {
                try await client.execute(uri: path, method: .post, headers: headers, body: Self.form(["decision": "approve", "username": username, "code": "000000"])) {
                    #expect($0.status == .forbidden)
                    #expect(String(buffer: $0.body).contains("Not accepted: check your user name and code."))
                }
            }
        }
        #expect(try fixture.elevation.request(id: id)?.state == .requested)
        #expect(fixture.refusals(.elevationRefused).count == 3)
    }

    @Test("the sudo API: no token, a wrong token or another target's token is 401; a malformed body is a deny")
    func sudoAPI() async throws {
        let fixture = try Fixture()
        let token = fixture.tokens.token(for: try #require(fixture.policy.targets["web01"]))
        try await fixture.application().test(.router) { client in
            for authorization in [nil, "Bearer wrong", "Basic \(token)"] {
                let headers: HTTPFields = authorization.map { [.authorization: $0] } ?? [:]
                try await client.execute(uri: "/api/v1/targets/web01/sudo", method: .post, headers: headers, body: ByteBuffer(string: "{}")) {
                    #expect($0.status == .unauthorized)
                    #expect(String(buffer: $0.body).hasPrefix(#"{"decision":"deny","message":"unauthorized"}"#))
                }
            }
            try await client.execute(uri: "/api/v1/targets/web02/sudo", method: .post, headers: [.authorization: "Bearer \(token)"], body: ByteBuffer(string: "{}")) {
                #expect($0.status == .unauthorized)
            }
            try await client.execute(uri: "/api/v1/targets/web01/sudo", method: .post, headers: [.authorization: "bearer \(token)"], body: ByteBuffer(string: "not json")) {
                #expect($0.status == .ok)
                #expect(String(buffer: $0.body).contains(#""decision":"deny""#))
            }
        }
        #expect(fixture.refusals(.elevationRefused).count == 4)
        #expect(fixture.refusals(.elevationSudo).count == 1)
    }

    @Test("with client_ca, the right token without a TLS client certificate is 403 and audited, whatever headers claim one")
    func sudoCheckNeedsClientCertificate() async throws {
        let fixture = try Fixture()
        let target = try #require(fixture.policy.targets["web01"])
        let token = fixture.tokens.token(for: target)
        try await fixture.application(mutualTLS: true).test(.router) { client in
            let forged: [HTTPFields] = [
                [:], [HTTPField.Name("X-SSL-Client-CN")!: "web01", HTTPField.Name("X-SSL-Client-Verify")!: "SUCCESS"],
                [HTTPField.Name("X-Forwarded-Client-Cert")!: "Subject=\"CN=web01\";DNS=web01"], [HTTPField.Name("X-Client-Cert")!: "CN=web01"],
            ]
            for extra in forged {
                var headers: HTTPFields = [.authorization: "Bearer \(token)"]
                headers.append(contentsOf: extra)
                try await client.execute(
                    uri: "/api/v1/targets/web01/sudo", method: .post, headers: headers, body: ByteBuffer(string: #"{"user":"alice","command":"id"}"#)
                ) {
                    #expect($0.status == .forbidden)
                    #expect(String(buffer: $0.body) == #"{"decision":"deny","message":"a client certificate naming this target is required"}"# + "\n")
                }
            }
            // A wrong token is still 401: target names stay private.
            try await client.execute(uri: "/api/v1/targets/web01/sudo", method: .post, headers: [.authorization: "Bearer wrong"], body: ByteBuffer(string: "{}")) {
                #expect($0.status == .unauthorized)
            }
        }
        let refusals = fixture.refusals(.elevationRefused)
        #expect(refusals.map(\.reason) == Array(repeating: "no client certificate", count: 4) + ["wrong target token"])
        #expect(fixture.refusals(.elevationSudo).isEmpty)
    }

    @Test("Slack's actions: no route unless interactive; an unsigned request is 401 and audited")
    func slackActions() async throws {
        let fixture = try Fixture()
        try await fixture.application(slack: false).test(.router) { client in
            try await client.execute(uri: "/chatops/slack/actions", method: .post, body: ByteBuffer(string: "payload=x")) { #expect($0.status == .notFound) }
        }
        try await fixture.application(slack: true).test(.router) { client in
            try await client.execute(uri: "/chatops/slack/actions", method: .post, body: ByteBuffer(string: "payload=x")) {
                #expect($0.status == .unauthorized)
                #expect(String(buffer: $0.body).contains("Request not verified."))
            }
        }
        #expect(fixture.refusals(.elevationRefused).count == 1)
    }

    @Test("the web view: signed out, every page leads to /signin; a sign-in link that is not one is refused and audited; only known assets")
    func webView() async throws {
        let fixture = try Fixture()
        try await fixture.application().test(.router) { client in
            for uri in ["/sessions", "/sessions/abc", "/sessions/abc/cast"] {
                try await client.execute(uri: uri, method: .get) {
                    #expect($0.status == .seeOther)
                    #expect($0.headers[.location] == "/signin")
                }
            }
            try await client.execute(uri: "/sessions", method: .get, headers: [.cookie: "bastion_session=forged"]) { #expect($0.status == .seeOther) }
            try await client.execute(uri: "/signin", method: .get) {
                #expect($0.status == .ok)
                #expect(String(buffer: $0.body).contains("web"))
            }
            try await client.execute(uri: "/signin/not-a-token", method: .get) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/assets/../../etc/passwd", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/assets/player-page.js", method: .get) { #expect($0.status == .notFound) }  // not in this test's assets dir
            try await client.execute(uri: "/signout", method: .post) {
                #expect($0.status == .seeOther)
                #expect($0.headers[.setCookie]?.contains("Max-Age=0") == true)
            }
        }
        let refused = fixture.refusals(.webRefused)
        #expect(refused.map(\.reason) == ["sign-in link is not valid"], "\(refused)")
        #expect(refused.first?.connection?.id.rawValue.hasPrefix("http-") == true)
    }

    @Test("a signed-in auditor's cookie opens the list; a user who is not an auditor gets no session")
    func auditorSignIn() async throws {
        let fixture = try Fixture()
        let (carolName, aliceName) = (try #require(UserName("carol")), try #require(UserName("alice")))
        let carol = try #require(try fixture.users.user(named: carolName))
        let alice = try #require(try fixture.users.user(named: aliceName))
        let carolLink = try fixture.webSessions.signInLink(for: carol, connection: nil)
        let aliceLink = try fixture.webSessions.signInLink(for: alice, connection: nil)
        try await fixture.application().test(.router) { client in
            let cookie = try await client.execute(uri: String(carolLink.dropFirst("https://bastion.example.com".count)), method: .get) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/sessions")
                return response.headers[.setCookie]?.split(separator: ";").first.map(String.init)
            }
            let session = try #require(cookie)
            try await client.execute(uri: "/sessions", method: .get, headers: [.cookie: session]) {
                #expect($0.status == .ok)
                #expect(String(buffer: $0.body).contains("carol"))
            }
            // The link worked once.
            try await client.execute(uri: String(carolLink.dropFirst("https://bastion.example.com".count)), method: .get) { #expect($0.status == .gone) }
            try await client.execute(uri: String(aliceLink.dropFirst("https://bastion.example.com".count)), method: .get) { #expect($0.status == .forbidden) }
        }
        #expect(fixture.refusals(.sessionSearch).count == 1)
        #expect(fixture.refusals(.webRefused).map(\.reason) == ["sign-in link already used", "not an auditor"])
    }
}
