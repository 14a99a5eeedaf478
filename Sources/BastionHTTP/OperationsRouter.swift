public import Hummingbird
public import Prometheus

/// The operator-facing HTTP endpoints: `/healthz` for load balancers, `/metrics` for
/// Prometheus. Later issues add approval pages and the auditors' web view.
public enum OperationsRouter {
    /// - Parameter isHealthy: the readiness check (e.g. "the database answers"); a `false`
    ///   turns `/healthz` into 503 so a load balancer stops sending logins here.
    public static func make(
        registry: PrometheusCollectorRegistry, isHealthy: @escaping @Sendable () async -> Bool
    ) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ -> Response in
            let healthy = await isHealthy()
            return Response(
                status: healthy ? .ok : .serviceUnavailable,
                headers: [.contentType: "text/plain; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: healthy ? "ok\n" : "unavailable\n"))
            )
        }
        router.get("/metrics") { _, _ -> Response in
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
