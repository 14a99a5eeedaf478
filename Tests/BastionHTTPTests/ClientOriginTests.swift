import BastionCore
import BastionHTTP
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Prometheus
import Testing

/// Every request's client address, as audit records write it: the peer, or the client a
/// trusted proxy names (`http.trusted_proxies`). The router is the daemon's own
/// (`OperationsRouter.make`), with one route that says what the context holds.
@Suite("Client origin of HTTP requests")
struct ClientOriginTests {
    static func application(trusting proxies: String?) throws -> some ApplicationProtocol {
        let router = OperationsRouter.make(
            registry: PrometheusCollectorRegistry(), trustedProxies: try proxies.map { try CIDRList($0) }, isHealthy: { true }
        )
        router.get("/origin") { _, context -> String in
            let connection = context.auditConnection
            return "\(connection.remoteAddress) \(connection.remotePort > 0) \(connection.id.rawValue.hasPrefix("http-"))"
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }

    static func origin(_ app: some ApplicationProtocol, framework: TestingSetup, headers: HTTPFields = [:]) async throws -> String {
        try await app.test(framework) { client in
            try await client.execute(uri: "/origin", method: .get, headers: headers) { String(buffer: $0.body) }
        }
    }

    @Test("a trusted proxy's X-Forwarded-For names the client")
    func trusted() async throws {
        let app = try Self.application(trusting: "127.0.0.1/32")
        let origin = try await Self.origin(app, framework: .live, headers: [HTTPField.Name("X-Forwarded-For")!: "198.51.100.4"])
        #expect(origin == "198.51.100.4 false true")
    }

    @Test("from a peer that is not a trusted proxy, Forwarded and X-Forwarded-For are ignored")
    func untrusted() async throws {
        let app = try Self.application(trusting: "10.0.0.0/8")
        let headers: HTTPFields = [HTTPField.Name("X-Forwarded-For")!: "198.51.100.4", HTTPField.Name("Forwarded")!: "for=198.51.100.5"]
        #expect(try await Self.origin(app, framework: .live, headers: headers) == "127.0.0.1 true true")
    }

    @Test("with none configured, the peer, headers or not")
    func noneConfigured() async throws {
        let app = try Self.application(trusting: nil)
        #expect(try await Self.origin(app, framework: .live, headers: [HTTPField.Name("X-Forwarded-For")!: "198.51.100.4"]) == "127.0.0.1 true true")
        // Without sockets there is no peer to name.
        #expect(try await Self.origin(app, framework: .router) == "unknown false true")
    }
}
