public import BastionCore
public import Hummingbird
public import Prometheus

/// The operator-facing HTTP endpoints: `/healthz` for load balancers, `/metrics` for
/// Prometheus. Every other route is registered beside them (``HTTPRoutes``).
/// Every request first gets its client's address (``ClientOriginMiddleware``).
public enum OperationsRouter {
    /// - Parameter isHealthy: the readiness check (e.g. "the database answers"); a `false`
    ///   turns `/healthz` into 503 so a load balancer stops sending logins here.
    /// - Parameter refresh: brings gauges read from elsewhere up to date before `/metrics` answers.
    /// - Parameter trustedProxies: `http.trusted_proxies`, whose `Forwarded`/`X-Forwarded-For` is believed.
    public static func make(
        registry: PrometheusCollectorRegistry, trustedProxies: CIDRList? = nil, refresh: @escaping @Sendable () -> Void = {},
        isHealthy: @escaping @Sendable () async -> Bool
    ) -> Router<BastionRequestContext> {
        let router = Router(context: BastionRequestContext.self)
        router.add(middleware: ClientOriginMiddleware(trustedProxies: trustedProxies))
        router.get("/healthz") { _, _ -> Response in
            let healthy = await isHealthy()
            return Response(
                status: healthy ? .ok : .serviceUnavailable,
                headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: healthy ? "ok\n" : "unavailable\n"))
            )
        }
        router.get("/metrics") { _, _ -> Response in
            refresh()
            var bytes: [UInt8] = []
            registry.emit(into: &bytes)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: bytes))
            )
        }
        return router
    }
}
