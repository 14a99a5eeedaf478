import BastionCore
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle

/// Live watch in the web view: the list's live sessions, `/live/ID` (asciinema-player in live
/// mode) and `/live/ID/events`, the session's output as server-sent events.
///
/// The same rule as `ssh … watch` (``WatchPermission``; the web view is for auditors only, so
/// an auditor may watch any live session), the same records (`session.watch`, then
/// `session.watch_end`, with `via` = `web`), and the same notice to the watched user: attaching
/// to the ``SessionBroadcast`` leaves the request the session's own thread carries out
/// (respecting `sessions.notify_watchers`). The stream only reads what the broadcast buffered
/// for this watcher: a page that falls behind loses bytes (with a notice), never slows the session.
extension WebView {
    /// How often the stream looks for new output: within this, output reaches the page.
    static let livePoll: Duration = .milliseconds(50)
    /// How often the viewer is checked again (a lost role, a sign-out) and a keepalive written
    /// (a write to a closed page fails: that is how closing the page ends the watch).
    static let liveCheck: Duration = .seconds(1)

    /// The live sessions the signed-in auditor may watch, oldest first.
    func live() -> [SessionBroadcast.Info] {
        (broadcasts?.all() ?? []).map(\.info)
    }

    func livePage(_ request: Request, id: String, from connection: AuditEvent.Connection) throws -> Response {
        let (user, session): (User, WebSession)
        switch try auditor(request, from: connection) {
        case .success(let found): (user, session) = found
        case .failure(let refusal): return refusal.response
        }
        switch watchable(id: id, user: user, session: session, connection: connection) {
        case .success(let broadcast): return WebRoutes.html(.ok, WebPage.live(broadcast.info, viewer: user.name.rawValue))
        case .failure(let refusal): return refusal.response
        }
    }

    func liveEvents(_ request: Request, id: String, from connection: AuditEvent.Connection) throws -> Response {
        // The cookie is SameSite=Strict already; a browser that says the request comes from
        // another site is turned away before anything else (no watch, no notice to the user).
        if let site = request.headers[Self.secFetchSite], site != "same-origin" {
            sessions.refuse(path: request.uri.path, user: nil, reason: "cross-site request for a live stream (\(site.prefix(20)))", connection: connection)
            return WebRoutes.html(.forbidden, WebPage.message("Refused", detail: "A live stream is for this site's own pages."))
        }
        let (user, session): (User, WebSession)
        switch try auditor(request, from: connection) {
        case .success(let found): (user, session) = found
        case .failure(let refusal): return refusal.response
        }
        let broadcast: SessionBroadcast
        switch watchable(id: id, user: user, session: session, connection: connection) {
        case .success(let found): broadcast = found
        case .failure(let refusal): return refusal.response
        }
        let info = broadcast.info
        var details = ["session_id": info.id.rawValue, "via": "web", "as": WatchPermission.Role.auditor.rawValue, "user": info.user]
        details["web_session"] = session.auditID
        // Audited before anything is shown: without the record, no watch (fail closed).
        try audit.append(AuditEvent(
            type: .sessionWatch, time: clock.now(), actor: actor(user), connection: connection, session: .init(id: info.id, login: info.login),
            target: info.target, details: details
        ))
        let watch = LiveWebWatch(
            broadcast: broadcast, watcher: user.name.rawValue, cookie: request.cookies[WebSessions.cookieName]?.value, path: request.uri.path,
            connection: connection, view: self, details: details
        )
        var headers: HTTPFields = [
            .contentType: "text/event-stream", .cacheControl: "no-store", HTTPField.Name("Referrer-Policy")!: "no-referrer",
            .xContentTypeOptions: "nosniff", .contentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'",
        ]
        headers[HTTPField.Name("X-Accel-Buffering")!] = "no"
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in try await watch.run(&writer) })
    }

    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!

    /// The live session `id`, if this auditor may watch it; otherwise the answer (audited as a
    /// refused `session.watch`). Only auditors reach this, so an unknown id is said to be one.
    private func watchable(id: String, user: User, session: WebSession, connection: AuditEvent.Connection) -> Result<SessionBroadcast, WebRefusal> {
        let found = id.utf8.count <= 64 ? broadcasts?.session(id: SessionID(rawValue: id)) : nil
        let permission = WatchPermission.decide(isAuditor: true, user: user.name.rawValue, sessionExists: found != nil, grantApprovers: [])
        if case .allowed = permission, let found { return .success(found) }
        let reason = permission == .noSuchSession ? "no live session with that id" : "not an auditor nor an approver of the session's elevation grant"
        try? audit.append(AuditEvent(
            type: .sessionWatch, time: clock.now(), outcome: .failure, actor: actor(user), connection: connection, reason: reason,
            details: ["session_id": String(id.prefix(64)), "via": "web", "web_session": session.auditID]
        ))
        let page = permission == .noSuchSession
            ? WebPage.message("Not found", detail: "No live session has this id (it may have ended: look for its recording).", viewer: user.name.rawValue)
            : WebPage.message("Refused", detail: WatchPermission.refusal(SessionID(rawValue: String(id.prefix(64)))), viewer: user.name.rawValue)
        return .failure(WebRefusal(response: WebRoutes.html(permission == .noSuchSession ? .notFound : .forbidden, page)))
    }
}

/// One web watch: attaches to the broadcast, streams what it buffered for this watcher until
/// the session ends, the page goes away or the viewer may no longer watch; then detaches and
/// writes the `session.watch_end` record.
private struct LiveWebWatch: Sendable {
    let broadcast: SessionBroadcast
    let watcher: String
    let cookie: String?
    let path: String
    let connection: AuditEvent.Connection
    let view: WebView
    let details: [String: String]

    func run(_ writer: inout any ResponseBodyWriter) async throws {
        let started = ContinuousClock.now
        func elapsed() -> Double {
            let duration = ContinuousClock.now - started
            return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }
        var stream = LiveEventStream()
        var (bytes, skipped) = (0, 0)
        var end = "closed"
        var size = broadcast.size
        guard let watcherID = broadcast.attach(name: watcher) else {
            try? await writer.write(ByteBuffer(string: LiveEventStream.reset() + stream.finish("[session ended]\r\n", at: 0) + LiveEventStream.done))
            try? await writer.finish(nil)
            record(end: "session ended", duration: 0, bytes: 0, skipped: 0)
            return
        }
        defer { broadcast.detach(watcher: watcherID) }
        var lastCheck = ContinuousClock.now
        do {
            try await writer.write(ByteBuffer(string: LiveEventStream.reset(cols: size?.columns ?? 80, rows: size?.rows ?? 24)))
            while true {
                let delivery = broadcast.take(watcher: watcherID)
                bytes += delivery.bytes.count
                skipped += delivery.skipped
                var out = ""
                if let now = broadcast.size, now != size {
                    size = now
                    out += LiveEventStream.resize(cols: now.columns, rows: now.rows, at: elapsed())
                }
                out += delivery.bytes.isEmpty ? "" : stream.output(delivery.bytes, at: elapsed()) ?? ""
                if delivery.ended {
                    end = "session ended"
                    out += stream.finish("\r\n[session ended]\r\n", at: elapsed()) + LiveEventStream.done
                } else if Task.isShuttingDownGracefully {
                    // The HTTP server waits for open responses: a stream must not hold bastiond up.
                    end = "bastiond stopping"
                    out += stream.finish("\r\n[bastion: the web view is stopping]\r\n", at: elapsed()) + LiveEventStream.done
                } else if ContinuousClock.now - lastCheck >= WebView.liveCheck {
                    lastCheck = ContinuousClock.now
                    if !stillAllowed() {
                        end = "permission withdrawn"
                        out += stream.finish("\r\n[bastion: you may no longer watch this session]\r\n", at: elapsed()) + LiveEventStream.done
                    } else {
                        out += LiveEventStream.keepalive
                    }
                }
                if !out.isEmpty { try await writer.write(ByteBuffer(string: out)) }
                if end != "closed" { break }
                try await Task.sleep(for: WebView.livePoll)
            }
            try await writer.finish(nil)
        } catch {
            // The page went away (a failed write) or the server is stopping: the watch ends.
        }
        record(end: end, duration: elapsed(), bytes: bytes, skipped: skipped)
    }

    /// The viewer, checked again as every request is (a lost role or a sign-out ends the watch).
    private func stillAllowed() -> Bool {
        guard case .auditor = try? view.sessions.viewer(cookie: cookie, path: path, connection: connection) else { return false }
        return true
    }

    private func record(end: String, duration: Double, bytes: Int, skipped: Int) {
        let info = broadcast.info
        var details = ["session_id": info.id.rawValue, "via": "web", "as": WatchPermission.Role.auditor.rawValue, "end": end]
        details["web_session"] = self.details["web_session"]
        details["duration"] = String(format: "%.3f", duration)
        details["bytes"] = String(bytes)
        details["bytes_skipped"] = String(skipped)
        try? view.audit.append(AuditEvent(
            type: .sessionWatchEnd, time: view.clock.now(), actor: .init(user: watcher, method: "web"), connection: connection,
            session: .init(id: info.id, login: info.login), target: info.target, details: details
        ))
    }
}
