import BastionCore
import Foundation
import Hummingbird
import NIOCore
import NIOPosix

/// `POST /chatops/slack/actions`, Slack's interactivity request URL. Registered only with
/// `[chatops.slack] interactive = true`; otherwise the path does not exist (404).
enum SlackActionsRoute {
    static let path = "/chatops/slack/actions"
    /// Slack's payloads are small; anything bigger is not Slack.
    static let maximumBody = 64 * 1_024

    static func register(on router: Router<BastionRequestContext>, context: HTTPRouteContext) {
        guard let handler = context.slackActions else { return }
        router.post(RouterPath(path)) { request, context -> Response in
            let body = try await request.body.collect(upTo: maximumBody)
            let signature = request.headers[.init("X-Slack-Signature")!]
            let timestamp = request.headers[.init("X-Slack-Request-Timestamp")!]
            let connection = context.auditConnection
            // A decision writes and fsyncs: off the cooperative pool.
            let answer = try await NIOThreadPool.singleton.runIfActive {
                handler.handle(body: Array(buffer: body), signature: signature, timestamp: timestamp, connection: connection)
            }
            var json = CanonicalJSONWriter()
            json.beginObject()
            json.member("response_type", "ephemeral")
            json.member("text", answer.text)
            json.endObject()
            return Response(
                status: .init(code: answer.status), headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: json.bytes))
            )
        }
    }
}
