import BastionCore
import Foundation
import Hummingbird
import NIOCore
import NIOPosix

/// The API target hosts call: `POST /api/v1/targets/{target}/sudo`, asked by the sudo check
/// (`Config/target/bastion-sudo-check`) on every sudo. JSON in and out; the decisions are
/// `SudoCheck`'s, this type only reads the request and writes the answer
/// (docs/elevation-api.md).
enum TargetAPIRoutes {
    /// A check sends a login, a command line and an id: far below this.
    static let maximumBody = 16 * 1024

    /// The body the check posts.
    struct CheckBody: Decodable {
        var user: String
        var command: String?
        var requestID: String?

        enum CodingKeys: String, CodingKey {
            case user, command
            case requestID = "request_id"
        }
    }

    /// The answer it parses (with sed: keep the keys flat and the values simple).
    struct AnswerBody: Encodable {
        var decision: String
        var requestID: ElevationID?
        var message: String
        var approveURL: String?

        enum CodingKeys: String, CodingKey {
            case decision, message
            case requestID = "request_id"
            case approveURL = "approve_url"
        }
    }

    static func register(on router: Router<BastionRequestContext>, context: HTTPRouteContext) {
        let check = context.sudoCheck
        router.post("/api/v1/targets/:target/sudo") { request, requestContext -> Response in
            let target = requestContext.parameters.get("target") ?? ""
            let body = try? await request.body.collect(upTo: maximumBody)
            let query = body.flatMap { buffer -> SudoCheck.Query? in
                guard let decoded = try? JSONDecoder().decode(CheckBody.self, from: Data(buffer.readableBytesView)) else { return nil }
                return SudoCheck.Query(login: decoded.user, command: decoded.command ?? "", requestID: decoded.requestID)
            }
            let bearer = bearerToken(request.headers[.authorization])
            // The check writes (request, audit append with its fsync): off the cooperative pool,
            // so a slow disk delays this answer only, not every task of the process.
            let connection = requestContext.auditConnection
            // With `http.client_ca`, the certificate this connection's TLS handshake verified,
            // read from the connection itself: no header can stand in for it.
            let certificate: SudoCheck.ClientCertificate =
                context.requireClientCertificate ? .required(await requestContext.verifiedClientCertificate()) : .notRequired
            let outcome = try await NIOThreadPool.singleton.runIfActive {
                check.check(target: target, bearer: bearer, query: query, connection: connection, certificate: certificate)
            }
            switch outcome {
            case .unauthorized:
                return json(status: .unauthorized, AnswerBody(decision: "deny", message: "unauthorized"))
            case .forbidden:
                return json(status: .forbidden, AnswerBody(decision: "deny", message: "a client certificate naming this target is required"))
            case .answered(let answer):
                return json(status: .ok, AnswerBody(
                    decision: answer.decision.rawValue, requestID: answer.requestID, message: answer.message, approveURL: answer.approveURL
                ))
            }
        }
    }

    /// The token of `Authorization: Bearer TOKEN` (scheme case-insensitive, RFC 9110 §11.1).
    static func bearerToken(_ header: String?) -> String? {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return nil }
        return header.dropFirst(7).trimmingCharacters(in: .whitespaces)
    }

    private static func json(status: HTTPResponse.Status, _ body: AnswerBody) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(body)) ?? Data(#"{"decision":"deny","message":"internal failure"}"#.utf8)
        return Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: Array(data) + [0x0A]))
        )
    }
}
