import BastionCore
import HTTPTypes
import Hummingbird
import Foundation
import NIOCore
import NIOPosix

/// `GET /approve/<token>` shows a request; `POST` decides it with the approver's user name and
/// a fresh TOTP code. The token (see ``ApprovalLink``) is the only capability in the link; it
/// is useless without an approver's code, works once, and dies with the request.
enum ApprovalRoutes {
    static func register(on router: Router<BastionRequestContext>, context: HTTPRouteContext) {
        let elevation = context.elevation
        let audit = context.audit
        let clock = context.clock
        router.get("/approve/:token") { _, context -> Response in
            let token = context.parameters.get("token") ?? ""
            guard let id = elevation.links.requestID(fromToken: token), let found = try? elevation.request(id: id) else {
                refuseLink(audit: audit, clock: clock, reason: ElevationRefusal.linkInvalid.description, connection: context.auditConnection)
                return html(.notFound, ApprovalPage.message("Not found", detail: "This approval link is not valid."))
            }
            guard !found.linkUsed else { return html(.gone, ApprovalPage.outcome(found, headline: "This link was already used")) }
            guard found.state == .requested else {
                return html(.gone, ApprovalPage.outcome(found, headline: "Request \(found.id) is \(found.state.rawValue)"))
            }
            return html(.ok, ApprovalPage.form(found, now: clock.now()))
        }
        router.post("/approve/:token") { incoming, context -> Response in
            let token = context.parameters.get("token") ?? ""
            let connection = context.auditConnection
            guard let id = elevation.links.requestID(fromToken: token) else {
                refuseLink(audit: audit, clock: clock, reason: ElevationRefusal.linkInvalid.description, connection: connection)
                return html(.notFound, ApprovalPage.message("Not found", detail: "This approval link is not valid."))
            }
            let body = try await incoming.body.collect(upTo: 16_384)
            let form = FormBody(String(buffer: body))
            let decision = form["decision"]
            let name = form["username"] ?? ""
            let caller = ElevationService.Caller(actor: .init(user: String(name.prefix(64)), method: "web+totp"), connection: connection, via: "web")
            guard decision == "approve" || decision == "deny" else {
                return html(.badRequest, ApprovalPage.message("Bad request", detail: "Choose approve or deny."))
            }
            guard let approver = UserName(name) else {
                // Same words as any failed check: the page does not say which part was wrong.
                refuseLink(
                    audit: audit, clock: clock, reason: ElevationRefusal.unknownApprover.description, connection: connection, id: id, user: name
                )
                return try decisionRefused(id: id, elevation: elevation, message: "Not accepted: check your user name and code.", clock: clock)
            }
            let (approve, code, comment) = (decision == "approve", form["code"] ?? "", form["comment"] ?? "")
            // A decision writes and fsyncs: off the cooperative pool.
            let result = try await NIOThreadPool.singleton.runIfActive {
                elevation.decide(id: id, approve: approve, approver: approver, proof: .totp(code), comment: comment, caller: caller, viaLink: true)
            }
            switch result {
            case .success(let decided):
                let headline = switch decided.state {
                case .active, .approved: "Approved: \(decided.requester) may use \(decided.login) on \(decided.target)"
                case .denied: "Denied"
                default: "Approval recorded (\(decided.approvers.count) of \(decided.approvalsRequired))"
                }
                return html(.ok, ApprovalPage.outcome(decided, headline: headline))
            case .failure(let refusal):
                let message: String = switch refusal {
                case .wrongCode, .replayedCode, .unknownApprover, .missingCode, .approverLocked: "Not accepted: check your user name and code."
                default: refusal.description.prefix(1).uppercased() + refusal.description.dropFirst() + "."
                }
                return try decisionRefused(id: id, elevation: elevation, message: message, clock: clock)
            }
        }
    }

    private static func decisionRefused(id: ElevationID, elevation: ElevationService, message: String, clock: any WallClock) throws -> Response {
        guard let found = try elevation.request(id: id), found.state == .requested, !found.linkUsed else {
            return html(.forbidden, ApprovalPage.message("Not accepted", detail: message))
        }
        return html(.forbidden, ApprovalPage.form(found, now: clock.now(), message: message))
    }

    private static func refuseLink(
        audit: any AuditEmitter, clock: any WallClock, reason: String, connection: AuditEvent.Connection, id: ElevationID? = nil, user: String? = nil
    ) {
        var details = ["action": "web", "via": "web"]
        details["request_id"] = id?.rawValue
        try? audit.append(AuditEvent(
            type: .elevationRefused, time: clock.now(), outcome: .failure, actor: .init(user: user.map { String($0.prefix(64)) }, method: "web"),
            connection: connection, reason: reason, details: details
        ))
    }

    /// Every page: no caching (it shows a live request), no referrer (the URL is a
    /// capability), no framing, no script.
    private static func html(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store", HTTPField.Name("Referrer-Policy")!: "no-referrer",
                .contentSecurityPolicy: "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
                .xContentTypeOptions: "nosniff",
            ],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }
}

/// An `application/x-www-form-urlencoded` body.
struct FormBody {
    private var fields: [String: String] = [:]

    init(_ text: String) {
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = parts.first.map({ Self.decode($0) }), !key.isEmpty, fields[key] == nil else { continue }
            fields[key] = parts.count > 1 ? Self.decode(parts[1]) : ""
        }
    }

    subscript(key: String) -> String? { fields[key] }

    private static func decode(_ text: Substring) -> String {
        String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
    }
}
